package provider

import "testing"

func TestSharedCredential(t *testing.T) {
	made := 0
	create := func() *int { made++; v := made; return &v }
	var c Credentials
	a := SharedCredential(&c, CredentialKey("vertex", "key-1"), create)
	b := SharedCredential(&c, CredentialKey("vertex", "key-1"), create)
	other := SharedCredential(&c, CredentialKey("vertex", "key-2"), create)
	if a != b || a == other || made != 2 {
		t.Errorf("same key shared %v, other key apart %v, created %d times; want true, true, 2", a == b, a != other, made)
	}
	if SharedCredential[*int](nil, CredentialKey("vertex", "key-1"), create) == a {
		t.Error("a nil cache kept a value")
	}
	if CredentialKey("a", "bc") == CredentialKey("ab", "c") {
		t.Error("parts are not separated in the key")
	}
}
