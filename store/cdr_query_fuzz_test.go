package store

import (
	"database/sql"
	"strings"
	"testing"
	"unicode/utf8"
)

// asciiLower folds A-Z only, as SQLite's built-in LIKE does.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// FuzzCDRNumberPattern: how QueryCDR turns the /cdr filters it is given
// (CDRQuery.Number, CDRQuery.Search) into SQL LIKE patterns, checked with
// SQLite itself (`? LIKE ? ESCAPE '\'`, as buildCDRQuery writes it).
// Promised (CDRQuery, numberPattern): Number matches an extension exactly,
// or, with a leading and/or trailing "_" wildcard, as a suffix / prefix /
// substring of the rest; Search is a substring. So every '%', '_' and '\'
// of the user's text is literal. SQLite's LIKE folds ASCII case, so the
// oracle does too. The api refuses NUL in both, so NUL is left out, and
// so is invalid UTF-8 (LIKE matches characters, not bytes).
// Seeds: the number and search filters of the store and api tests.
func FuzzCDRNumberPattern(f *testing.F) {
	for _, s := range [][2]string{
		{"_456789", "0123456789"}, {"1001", "1001"}, {"100_", "1001"}, {"_00_", "1001"}, {"_", "1001"}, {"__", ""},
		{"___", "a_b"}, {"_%", "50%"}, {`_\`, `a\`}, {"Anastasia", "anastasia"}, {"+4915112345678", "+4915112345678"},
		{"_5551234", "9005551234"}, {"*26_", "*26"}, {"_é", "É"}, {"_\xff", "\xfe\xff"},
	} {
		f.Add(s[0], s[1])
	}
	db, err := sql.Open("sqlite3", ":memory:")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	stmt, err := db.Prepare(`SELECT ? LIKE ? ESCAPE '\'`)
	if err != nil {
		f.Fatal(err)
	}
	like := func(t *testing.T, value, pattern string) bool {
		var ok bool
		if err := stmt.QueryRow(value, pattern).Scan(&ok); err != nil {
			t.Fatalf("%q LIKE %q: %v", value, pattern, err)
		}
		return ok
	}
	f.Fuzz(func(t *testing.T, number, ext string) {
		if len(number) > 128 || len(ext) > 256 {
			return // the api allows 64 bytes of number, 128 of search
		}
		if strings.ContainsRune(number, 0) || strings.ContainsRune(ext, 0) || !utf8.ValidString(number) || !utf8.ValidString(ext) {
			return // SQLite's LIKE compares characters: bytes of broken UTF-8 are not a text
		}
		lext := asciiLower(ext)
		// Search: a substring.
		if got, want := like(t, ext, likePattern(number)), strings.Contains(lext, asciiLower(number)); got != want {
			t.Fatalf("search %q, name %q: LIKE %q says %v, want %v", number, ext, likePattern(number), got, want)
		}
		pat, wild := numberPattern(number)
		lead, trail := strings.HasPrefix(number, "_"), strings.HasSuffix(number, "_") && len(number) > 1
		if !wild {
			if lead || trail || pat != number {
				t.Fatalf("number %q: pattern %q, wildcard %v", number, pat, wild)
			}
			return
		}
		core := asciiLower(strings.TrimSuffix(strings.TrimPrefix(number, "_"), "_"))
		var want bool
		switch {
		case lead && trail:
			want = strings.Contains(lext, core)
		case lead:
			want = strings.HasSuffix(lext, core)
		default:
			want = strings.HasPrefix(lext, core)
		}
		if got := like(t, ext, pat); got != want {
			t.Fatalf("number %q, extension %q: LIKE %q says %v, want %v", number, ext, pat, got, want)
		}
	})
}
