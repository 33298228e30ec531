package lab

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README's Asterisk configuration blocks are what the lab's PBX runs:
// every line of every block is in the named file of testdata/asterisk/pbx,
// under the same [section]. An administrator who copies the README gets the
// set-up the stories (and callrecd doctor) were proven on.
func TestREADMESnippetsAreTheLabsPBXConfig(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeConfBlocks(string(readme))
	if len(blocks) < 5 {
		t.Fatalf("%d configuration blocks in the README, want the five of the Asterisk section", len(blocks))
	}
	for _, b := range blocks {
		conf, err := os.ReadFile(filepath.Join("../../testdata/asterisk/pbx", b.file))
		if err != nil {
			t.Errorf("README block for %s: %v", b.file, err)
			continue
		}
		for _, miss := range missingLines(b.lines, string(conf)) {
			t.Errorf("README's %s line %q is not in the lab's PBX config", b.file, miss)
		}
	}
}

// The check itself: a line in another section, or changed, is missing.
func TestMissingLinesSeesSectionsAndWildcards(t *testing.T) {
	conf := "[general]\nenabled = yes\n; comment\n[user]\ntype = user\npassword = s3cret\n"
	for _, tc := range []struct {
		snippet []string
		missing int
	}{
		{[]string{"[general]", "enabled=yes", "[user]", "password = …"}, 0},
		{[]string{"[user]", "enabled = yes"}, 1},   // right line, wrong section
		{[]string{"[general]", "enabled = no"}, 1}, // changed
		{[]string{"[nosuch]", "type = user"}, 2},   // no section, so its lines are missing too
		{[]string{"type = user"}, 0},               // no section named: anywhere
		{[]string{"[user]", "password = …x"}, 1},   // the wildcard does not swallow a suffix
	} {
		if got := missingLines(tc.snippet, conf); len(got) != tc.missing {
			t.Errorf("%q: missing %q, want %d", tc.snippet, got, tc.missing)
		}
	}
}

type confBlock struct {
	file  string
	lines []string
}

// readmeConfBlocks returns the ```ini blocks whose first line is
// "; file: <name>".
func readmeConfBlocks(md string) []confBlock {
	var out []confBlock
	var cur *confBlock
	in := false
	sc := bufio.NewScanner(strings.NewReader(md))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && strings.TrimSpace(line) == "```ini":
			in, cur = true, nil
		case in && strings.TrimSpace(line) == "```":
			in = false
			if cur != nil {
				out = append(out, *cur)
			}
		case in && cur == nil:
			if f, ok := strings.CutPrefix(strings.TrimSpace(line), "; file: "); ok {
				cur = &confBlock{file: f}
			}
		case in && strings.TrimSpace(line) != "" && !strings.HasPrefix(strings.TrimSpace(line), ";"):
			cur.lines = append(cur.lines, line)
		}
	}
	return out
}

// missingLines returns the snippet lines conf lacks. A [section] line
// scopes the lines after it to that section of conf; whitespace does not
// count; "…" matches anything.
func missingLines(snippet []string, conf string) []string {
	sections := map[string][]string{}
	var all []string
	cur := ""
	for _, l := range strings.Split(conf, "\n") {
		n := squash(l)
		if n == "" || strings.HasPrefix(n, ";") {
			continue
		}
		if strings.HasPrefix(n, "[") {
			cur = n
			sections[cur] = []string{}
			continue
		}
		sections[cur] = append(sections[cur], n)
		all = append(all, n)
	}
	var missing []string
	scope, scoped := all, false
	for _, l := range snippet {
		n := squash(l)
		if strings.HasPrefix(n, "[") {
			scope, scoped = sections[n], true
			if _, ok := sections[n]; !ok {
				missing = append(missing, l)
			}
			continue
		}
		if !scoped {
			scope = all
		}
		re := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(n), "…", ".*") + "$")
		found := false
		for _, c := range scope {
			if re.MatchString(c) {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, l)
		}
	}
	return missing
}

func squash(s string) string { return strings.Join(strings.Fields(s), "") }
