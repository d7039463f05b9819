package console

import "testing"

// Every string exists in both languages.
func TestTextsComplete(t *testing.T) {
	for key := range texts["en"] {
		if texts["es"][key] == "" {
			t.Errorf("es lacks %q", key)
		}
	}
	for key := range texts["es"] {
		if texts["en"][key] == "" {
			t.Errorf("en lacks %q", key)
		}
	}
}
