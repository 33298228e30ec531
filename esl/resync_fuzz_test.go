package esl

import (
	"testing"
)

// FuzzResyncAnswers: the re-sync's parsers never panic on what a
// FreeSWITCH (or a broken proxy) answers, and a recording name they report
// is always one of callrecd's (a recording uuid).
func FuzzResyncAnswers(f *testing.F) {
	f.Add(`{"row_count": 0}`)
	f.Add(`{"row_count":1,"rows":[{"uuid":"f1cb24ba-2eef-49c5-94af-16d33c37ff98","b_uuid":"x"}]}`)
	f.Add("<media-bugs>\n <media-bug>\n  <function>session_record</function>\n  <target>/r/0b0c8a4e-6d6f-4d4e-9d7b-1f2e3d4c5b6a.wav</target>\n </media-bug>\n</media-bugs>\n")
	f.Add("-ERR no reply\n")
	f.Add(`{"row_count":1,"rows":[{"uuid":1}]}`)
	f.Fuzz(func(t *testing.T, body string) {
		_, _ = showRows(body)
		for _, target := range recordTargets(body) {
			if name, ok := recordingName(target); ok && len(name) != 36 {
				t.Fatalf("name %q from %q", name, target)
			}
		}
	})
}

// BenchmarkTranslateBurst: the translator over the 20-call burst's real
// events (3,383 of them, every type FreeSWITCH sent).
func BenchmarkTranslateBurst(b *testing.B) {
	evs := traceEvents(b, "h_burst_20_calls")
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		tr := newTranslator(labMapping)
		for _, ev := range evs {
			n += len(tr.translate(ev))
		}
	}
	b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
}
