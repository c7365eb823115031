// Package chtest runs a real ClickHouse server for tests: the chDB engine (libchdb.so, a
// ClickHouse 26.7 build) in a child process that listens on the native TCP port, so tests talk
// to it with ch-go exactly as production talks to a ClickHouse server.
//
// A test package that uses it calls Main from its TestMain:
//
//	func TestMain(m *testing.M) { chtest.Main(m) }
//
// and each test starts its own server with Start (or StartServer to stop it and start another
// on the same data, as if ClickHouse went down and came back).
//
// The child is the test binary itself, re-executed with an environment variable that Main
// recognises: it loads libchdb.so with purego (no cgo) and runs clickhouse-local with
// `SYSTEM START LISTEN TCP` and a query that reads its stdin until EOF. Closing the child's stdin
// (Stop, or the parent dying) ends the query and the server with it.
//
// The library is not in the repository: `make chdb` fetches it into the user cache directory
// ($XDG_CACHE_HOME/llmgw/libchdb.so, else ~/.cache/llmgw/libchdb.so), or LLMGW_LIBCHDB names
// it. A test that needs it fails, never skips, when it is missing.
//
// A quirk of this engine in local mode: a client refused at the handshake (for example, for a
// database that does not exist) makes the server abort when it stops, so Stop reports an
// error. Query errors are harmless. Code under test should dial a database it knows exists.
//
// It is for tests only; production talks to a real ClickHouse server.
package chtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"
)

// LibraryEnv is the environment variable that names libchdb.so, overriding the default path.
const LibraryEnv = "LLMGW_LIBCHDB"

// childEnv tells a re-executed test binary to serve ClickHouse instead of running tests; its
// value is the library's path, and the binary's arguments are the server's.
const childEnv = "LLMGW_CHTEST_CHILD"

// startTimeout bounds how long a server may take to accept connections (measured: 0.1-0.2 s).
const startTimeout = 60 * time.Second

// LibraryPath returns where libchdb.so is expected: $LLMGW_LIBCHDB, else llmgw/libchdb.so under
// the user cache directory (the Makefile's `make chdb` uses the same rule).
func LibraryPath() (string, error) {
	if p := os.Getenv(LibraryEnv); p != "" {
		return p, nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no user cache directory (set %s): %w", LibraryEnv, err)
	}
	return filepath.Join(dir, "llmgw", "libchdb.so"), nil
}

// Main is the TestMain of a package whose tests start servers: in the re-executed child it
// serves ClickHouse and exits; otherwise it runs the tests.
func Main(m *testing.M) {
	if lib := os.Getenv(childEnv); lib != "" {
		os.Exit(serveChild(lib, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// serveChild runs clickhouse-local from lib with args; it returns when the server's query ends
// (stdin closed).
func serveChild(lib string, args []string) int {
	h, err := purego.Dlopen(lib, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		fmt.Fprintf(os.Stderr, "chtest: load %s: %v\n", lib, err)
		return 2
	}
	var queryCmdline func(argc int32, argv **byte) uintptr
	var resultError func(result uintptr) *byte
	purego.RegisterLibFunc(&queryCmdline, h, "chdb_query_cmdline")
	purego.RegisterLibFunc(&resultError, h, "chdb_result_error")

	argv := append([]string{"clickhouse"}, args...)
	cargs := make([]*byte, len(argv)+1)
	keep := make([][]byte, len(argv))
	for i, a := range argv {
		keep[i] = append([]byte(a), 0)
		cargs[i] = &keep[i][0]
	}
	res := queryCmdline(int32(len(argv)), &cargs[0])
	runtime.KeepAlive(keep)
	runtime.KeepAlive(cargs)
	if res == 0 {
		fmt.Fprintln(os.Stderr, "chtest: chdb_query_cmdline returned no result")
		return 1
	}
	if e := resultError(res); e != nil {
		fmt.Fprintf(os.Stderr, "chtest: server query failed: %s\n", cString(e))
		return 1
	}
	return 0
}

func cString(p *byte) string {
	var n int
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}

// Options say where a server keeps its data and which port it listens on.
type Options struct {
	// Dir is the server's data directory; empty means a new temporary directory, removed when
	// the test ends.
	Dir string
	// Port is the native TCP port on 127.0.0.1; 0 picks a free one.
	Port int
}

// Server is a running ClickHouse server. Stop it with Stop, or let the test's cleanup do it.
type Server struct {
	// Addr is the native protocol address, host:port.
	Addr string
	// Dir is the data directory; a server started later on the same Dir sees the same tables.
	Dir string
	// Port is the native TCP port.
	Port int

	cmd     *exec.Cmd
	stdin   interface{ Close() error }
	waitCh  chan error
	log     string
	stopped sync.Once
	err     error
}

// Start starts a server for the test and returns its native protocol address (host:port). The
// server stops when the test ends. The test fails, naming `make chdb`, when libchdb.so is missing.
func Start(t testing.TB) string {
	t.Helper()
	return StartServer(t, Options{}).Addr
}

// StartServer starts a server with o; it stops when the test ends, if not stopped before.
func StartServer(t testing.TB, o Options) *Server {
	t.Helper()
	if os.Getenv(childEnv) != "" {
		// Started to serve, yet running tests: without Main the child would start servers of
		// its own, recursively.
		t.Fatal("chtest: this test binary's TestMain must call chtest.Main")
	}
	lib, err := LibraryPath()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(lib); err != nil {
		t.Fatalf("ClickHouse engine for tests missing: %v; run `make chdb` to fetch it (or set %s)", err, LibraryEnv)
	}
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.Port == 0 {
		if o.Port, err = freePort(); err != nil {
			t.Fatal(err)
		}
	}
	s, err := start(lib, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop ClickHouse: %v", err)
		}
	})
	return s
}

func start(lib string, o Options) (*Server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{
		"--path=" + filepath.Join(o.Dir, "data") + "/",
		"--listen_host=127.0.0.1",
		"--tcp_port=" + strconv.Itoa(o.Port),
		"--logger.level=warning",
		"--query", "SYSTEM START LISTEN TCP; SELECT count() FROM file('/dev/stdin', LineAsString) FORMAT Null",
	}
	logPath := filepath.Join(o.Dir, fmt.Sprintf("server-%d.log", time.Now().UnixNano()))
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), childEnv+"="+lib)
	cmd.Dir = o.Dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start ClickHouse child: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(o.Port)), Dir: o.Dir, Port: o.Port, cmd: cmd, stdin: stdin, waitCh: exited, log: logPath}
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.Close()
			return s, nil
		}
		select {
		case werr := <-exited:
			return nil, fmt.Errorf("ClickHouse exited before listening (%v): %s", werr, tail(logPath))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stdin.Close()
			<-exited
			return nil, fmt.Errorf("ClickHouse not listening on %s after %s: %s", s.Addr, startTimeout, tail(logPath))
		}
	}
}

// Stop closes the server's stdin, which ends it, and waits for it to exit: about 20 ms, or up to
// 5 s while clients keep connections open (the server waits for them). It is safe to call more
// than once.
func (s *Server) Stop() error {
	s.stopped.Do(func() {
		s.stdin.Close()
		select {
		case err := <-s.waitCh:
			if err != nil {
				s.err = fmt.Errorf("ClickHouse exited with %v: %s", err, tail(s.log))
			}
		case <-time.After(startTimeout):
			s.cmd.Process.Kill()
			<-s.waitCh
			s.err = errors.New("ClickHouse did not stop after its stdin closed; killed")
		}
	})
	return s.err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the end of the server's log, for an error message.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}
