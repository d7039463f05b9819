package staff

import (
	"bufio"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Password length bounds, in characters.
const (
	MinPassword = 12
	MaxPassword = 256
)

// Reasons a password is refused (WeakPassword.Reason); the console words
// each in the staff member's language.
const (
	ReasonShort      = "short"
	ReasonLong       = "long"
	ReasonCommon     = "common"
	ReasonEmail      = "email"
	ReasonRepetitive = "repetitive"
)

// WeakPassword is a password refused by CheckPassword.
type WeakPassword struct{ Reason string }

func (e *WeakPassword) Error() string {
	switch e.Reason {
	case ReasonShort:
		return fmt.Sprintf("password: at least %d characters", MinPassword)
	case ReasonLong:
		return fmt.Sprintf("password: at most %d characters", MaxPassword)
	case ReasonEmail:
		return "password: must not contain your email name"
	case ReasonRepetitive:
		return "password: a repeated or sequential pattern is easy to guess"
	}
	return "password: too common; it is on a list of passwords attackers try first"
}

//go:embed common-passwords.txt
var commonList string

// common is the refused list (common-passwords.txt names its source).
var common = func() map[string]bool {
	m := map[string]bool{"carecheck": true}
	sc := bufio.NewScanner(strings.NewReader(commonList))
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			m[line] = true
		}
	}
	return m
}()

// CheckPassword applies the console's password rules (NIST SP 800-63B
// 5.1.1.2): at least MinPassword characters; not a common password, also
// once its leading and trailing digits and symbols are taken off and
// common letter substitutions undone ("P@ssw0rd2024!" is "password"), nor
// a common password or a short unit repeated ("passwordpassword",
// "abcabcabcabc"), nor a run along the keyboard or the alphabet; and not
// containing the local part of the person's email. Most entries of the
// common list are shorter than MinPassword: the derived forms are what make
// the list bite.
func CheckPassword(pw, email string) error {
	n := utf8.RuneCountInString(pw)
	if n < MinPassword {
		return &WeakPassword{ReasonShort}
	}
	if n > MaxPassword {
		return &WeakPassword{ReasonLong}
	}
	low := strings.ToLower(pw)
	if local, _, ok := strings.Cut(strings.ToLower(email), "@"); ok && utf8.RuneCountInString(local) >= 3 && strings.Contains(low, local) {
		return &WeakPassword{ReasonEmail}
	}
	core := strings.TrimFunc(low, func(r rune) bool { return !unicode.IsLetter(r) })
	for _, form := range []string{low, core, unleet(core), unleet(low)} {
		if common[form] {
			return &WeakPassword{ReasonCommon}
		}
		if unit := repeatedUnit(form); unit != "" && (utf8.RuneCountInString(unit) <= 4 || common[unit]) {
			return &WeakPassword{ReasonRepetitive}
		}
	}
	if sequential(low) {
		return &WeakPassword{ReasonRepetitive}
	}
	return nil
}

// unleet undoes the usual letter substitutions.
func unleet(s string) string {
	return strings.NewReplacer("0", "o", "1", "i", "3", "e", "4", "a", "5", "s", "7", "t", "@", "a", "$", "s", "!", "i").Replace(s)
}

// repeatedUnit is the shortest unit s repeats (at least twice), or "".
func repeatedUnit(s string) string {
	r := []rune(s)
	for size := 1; size <= len(r)/2; size++ {
		if len(r)%size != 0 {
			continue
		}
		if strings.Repeat(string(r[:size]), len(r)/size) == s {
			return string(r[:size])
		}
	}
	return ""
}

// sequences are the runs a password must not just follow.
var sequences = []string{
	"0123456789", "abcdefghijklmnopqrstuvwxyz", "qwertyuiopasdfghjklzxcvbnm", "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
}

// sequential reports whether s runs along one of the sequences (either
// way, wrapping around).
func sequential(s string) bool {
	for _, seq := range sequences {
		loop := strings.Repeat(seq, 1+len(s)/len(seq)+1)
		rev := []rune(loop)
		for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
			rev[i], rev[j] = rev[j], rev[i]
		}
		if strings.Contains(loop, s) || strings.Contains(string(rev), s) {
			return true
		}
	}
	return false
}

// Argon2id parameters, from the OWASP Password Storage Cheat Sheet's first
// configuration (m=19 MiB, t=2, p=1; RFC 9106 names argon2id the default).
// Why these: the memory cost is what makes a GPU guesser pay, and 19 MiB ×
// 2 passes costs tens of milliseconds on one core, which a person signing
// in does not notice. One lane (p=1) because the service's machines are
// small and shared: a sign-in takes one core, not all. At most hashSlots
// hashes run at once, so a burst of sign-ins costs at most hashSlots × 19
// MiB (the sign-in throttle bounds the rate per address). Stored hashes
// carry their parameters (PHC string), so raising them later keeps old
// passwords working.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
	hashSlots    = 4
)

var hashing = make(chan struct{}, hashSlots)

func argonKey(pw, salt []byte, t, m uint32, p uint8, n uint32) []byte {
	hashing <- struct{}{}
	defer func() { <-hashing }()
	return argon2.IDKey(pw, salt, t, m, p, n)
}

// HashPassword hashes a password with argon2id and a random salt, encoded
// as "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>".
func HashPassword(pw string) string {
	salt := make([]byte, argonSaltLen)
	_, _ = rand.Read(salt)
	key := argonKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

var errBadHash = errors.New("not an argon2id hash")

// VerifyPassword reports whether pw matches an encoded hash, in constant
// time over the hash.
func VerifyPassword(encoded, pw string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, errBadHash
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 {
		return false, errBadHash
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, errBadHash
	}
	got := argonKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is verified against when there is no account, so a sign-in
// with an unknown email takes as long as one with a wrong password.
var dummyHash = sync.OnceValue(func() string { return HashPassword("no account has this password") })

// VerifyNothing spends the time of a VerifyPassword and reports false.
func VerifyNothing(pw string) {
	_, _ = VerifyPassword(dummyHash(), pw)
}
