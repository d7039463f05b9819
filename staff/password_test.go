package staff

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckPassword(t *testing.T) {
	for _, tc := range []struct {
		pw, email, reason string
	}{
		{"short1!", "dana@example.org", ReasonShort},
		{strings.Repeat("x", MaxPassword+1) + "y", "dana@example.org", ReasonLong},
		{"winniethepooh", "dana@example.org", ReasonCommon},
		{"Password1234", "dana@example.org", ReasonCommon},
		{"P@ssw0rd2024!", "dana@example.org", ReasonCommon},
		{"!!sunshine!!!", "dana@example.org", ReasonCommon},
		{"CareCheck2026!", "dana@example.org", ReasonCommon},
		{"passwordpassword", "dana@example.org", ReasonRepetitive},
		{"abcabcabcabc", "dana@example.org", ReasonRepetitive},
		{"aaaaaaaaaaaa", "dana@example.org", ReasonRepetitive},
		{"123456789012", "dana@example.org", ReasonRepetitive},
		{"qwertyuiopas", "dana@example.org", ReasonRepetitive},
		{"my name is DANA.WHIT ok", "dana.whit@example.org", ReasonEmail},
		{"correct horse battery", "dana@example.org", ""},
		{"river lantern oboe 42", "ana@example.org", ""},
	} {
		err := CheckPassword(tc.pw, tc.email)
		var weak *WeakPassword
		switch {
		case tc.reason == "" && err != nil:
			t.Errorf("CheckPassword(%q) = %v; want accepted", tc.pw, err)
		case tc.reason != "" && (!errors.As(err, &weak) || weak.Reason != tc.reason):
			t.Errorf("CheckPassword(%q) = %v; want refused as %s", tc.pw, err, tc.reason)
		}
	}
}

func TestHashPassword(t *testing.T) {
	h := HashPassword("correct horse battery")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash = %q; want argon2id with its parameters", h)
	}
	if h2 := HashPassword("correct horse battery"); h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	if ok, err := VerifyPassword(h, "correct horse battery"); !ok || err != nil {
		t.Errorf("VerifyPassword(right) = %v, %v; want true", ok, err)
	}
	if ok, _ := VerifyPassword(h, "correct horse batterz"); ok {
		t.Error("VerifyPassword(wrong) = true")
	}
	if _, err := VerifyPassword("$2a$10$abc", "x"); err == nil {
		t.Error("VerifyPassword(bcrypt) succeeded; want an error")
	}
}
