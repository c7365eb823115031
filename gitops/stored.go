package gitops

import (
	"errors"
	"fmt"
	"strings"

	"github.com/llmgw/llmgw/configfile"
	adminv1 "github.com/llmgw/llmgw/gen/go/llmgw/admin/v1"
)

// keepStored is what the Redacted placeholder resolves to while ReadStored parses: a value no
// reference resolves to, replaced by "" (write no secret, keep the stored one) once parsed.
const keepStored = "\x00keep-stored"

// errServerRef refuses a reference to the server's own environment or files.
var errServerRef = errors.New("env:// and file:// references name the server's environment and files, which the server does not read for an Admin API caller; keep the stored secret with '" + Redacted + "', or set it on the Providers page or with `llmgw apply`")

// ReadStored parses a config YAML sent by an Admin API caller (the web app's config editor),
// such as one Export wrote. Unlike Read, it reads nothing of the process's environment or
// file system: env:// and file:// references are refused, naming the field, since the
// server would otherwise hand its own secrets (any variable or readable file) to whoever may
// call the Admin API. A secret manager's reference is refused too: the Admin API stores keys,
// not references (serve --config reads them at run time). The Redacted placeholder keeps the
// stored secret, and a webhook URL redacted as Export writes it keeps the stored URL; the
// plan fails when nothing is stored for one. An error in the YAML names its line, document and
// field.
func ReadStored(data []byte) (*File, error) {
	cfg, err := configfile.Parse(data, func(ref string) (string, error) {
		switch {
		case ref == Redacted:
			return keepStored, nil
		case strings.HasPrefix(ref, "env://"), strings.HasPrefix(ref, "file://"):
			return "", errServerRef
		}
		return "", errors.New("secrets are never sent inline; keep the stored one with '" + Redacted + "'")
	})
	var ce *configfile.Error
	if errors.As(err, &ce) {
		if line := configfile.Line(data, ce); line > 0 {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
	}
	if err != nil {
		return nil, err
	}
	if len(cfg.ManagedSecrets) > 0 {
		ms := cfg.ManagedSecrets[0]
		where := "provider account " + ms.Account + ": auth_data"
		if ms.Model != "" {
			where = "provider account " + ms.Account + ": integrations (" + ms.Model + ").auth_data"
		}
		return nil, fmt.Errorf("%s: %s is a secret manager's reference, which only `llmgw serve --config` reads; the Admin API stores keys, not references", where, ms.Ref)
	}
	f, err := newFile(cfg, map[string]string{})
	if err != nil {
		return nil, err
	}
	f.stored, f.keep = true, map[string]bool{}
	for _, a := range cfg.Accounts {
		if a.Account.GetApiKey() == keepStored {
			a.Account.ApiKey = ""
			f.keep[a.Account.GetName()] = true
		}
		for _, m := range a.Models {
			if m.GetApiKey() == keepStored {
				m.ApiKey = ""
				f.keep[m.GetAccount()+"/"+m.GetName()] = true
			}
		}
	}
	for _, b := range cfg.Budgets {
		for _, t := range b.GetAlerts().GetNotificationTarget() {
			if t.GetSecret() == keepStored {
				t.Secret = "" // the store keeps the secret of a target with the same type and url
			}
		}
	}
	return f, nil
}

// storedURLs replaces each webhook URL of want that is the redacted form of one of have's
// targets of the same type with that target's URL, so a budget read back from Export keeps
// its URLs. A redacted URL with no stored match is an error naming the field.
func storedURLs(want, have *adminv1.Budget) error {
	for i, t := range want.GetAlerts().GetNotificationTarget() {
		if !strings.Contains(t.GetUrl(), "(redacted)") {
			continue
		}
		found := false
		for _, ht := range have.GetAlerts().GetNotificationTarget() {
			if ht.GetType() == t.GetType() && redactURL(ht.GetUrl()) == t.GetUrl() {
				t.Url, found = ht.GetUrl(), true
				break
			}
		}
		if !found {
			return fmt.Errorf("budget %s: alerts.notification_target[%d].url: %s stands for a stored URL, and no stored %s target has it; give the whole URL", want.GetName(), i, t.GetUrl(), t.GetType())
		}
	}
	return nil
}
