package masterkey_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"testing"

	"github.com/llmgw/llmgw/masterkey"
)

func TestSealer(t *testing.T) {
	s, err := masterkey.NewSealer(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := masterkey.NewSealer(bytes.Repeat([]byte{4}, 32))
	sealed := s.Seal([]byte("secret"), []byte("row-1"))
	if bytes.Contains(sealed, []byte("secret")) {
		t.Fatal("sealed value contains the plaintext")
	}
	if again := s.Seal([]byte("secret"), []byte("row-1")); bytes.Equal(again, sealed) {
		t.Fatal("sealing twice gave the same bytes: nonce not random")
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	tests := []struct {
		name    string
		sealer  *masterkey.Sealer
		sealed  []byte
		ad      string
		wantErr bool
	}{
		{"round trip", s, sealed, "row-1", false},
		{"other row", s, sealed, "row-2", true},
		{"other key", other, sealed, "row-1", true},
		{"tampered", s, tampered, "row-1", true},
		{"truncated", s, sealed[:5], "row-1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sealer.Open(tt.sealed, []byte(tt.ad))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && string(got) != "secret" {
				t.Fatalf("opened %q", got)
			}
		})
	}
	if _, err := masterkey.NewSealer([]byte("short")); err == nil {
		t.Fatal("NewSealer accepted a short key")
	}
}

func TestParse(t *testing.T) {
	raw := bytes.Repeat([]byte{0xab}, 32)
	tests := []struct {
		name, in string
		wantErr  bool
	}{
		{"hex", hex.EncodeToString(raw), false},
		{"base64", base64.StdEncoding.EncodeToString(raw), false},
		{"base64 raw url with newline", base64.RawURLEncoding.EncodeToString(raw) + "\n", false},
		{"short", base64.StdEncoding.EncodeToString(raw[:16]), true},
		{"garbage", "not a key!", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := masterkey.Parse(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && !bytes.Equal(got, raw) {
				t.Fatalf("key = %x, want %x", got, raw)
			}
		})
	}
}
