package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

// A -compare sitting runs several contenders (callrecd, the bare client, an
// older callrecd binary) round after round, in rotating order, under the
// same load and the same box's noise, and prints their pooled lags side by
// side: a figure from another sitting says little on a 2-core machine
// whose neighbours come and go.

type contender struct {
	name string
	bare bool
	bin  string
}

// parseCompare reads "callrecd,bare,bin:/tmp/callrecd-old".
func parseCompare(s, bin string) ([]contender, error) {
	var out []contender
	for _, f := range strings.Split(s, ",") {
		switch f = strings.TrimSpace(f); {
		case f == "callrecd":
			out = append(out, contender{name: "callrecd", bin: bin})
		case f == "bare":
			out = append(out, contender{name: "bare client", bare: true})
		case strings.HasPrefix(f, "bin:") && len(f) > 4:
			out = append(out, contender{name: filepath.Base(f[4:]), bin: f[4:]})
		default:
			return nil, fmt.Errorf("-compare: %q is not callrecd, bare or bin:<path>", f)
		}
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("-compare needs two contenders or more")
	}
	return out, nil
}

func compareSitting(sctx context.Context, o options, cs []contender) error {
	pooled := make([]analysis, len(cs))
	for round := range o.runs {
		for k := range cs {
			i := (round + k) % len(cs)
			c := cs[i]
			oc := o
			oc.bare, oc.bin = c.bare, c.bin
			oc.build = o.build && round == 0 && c.bin == o.bin
			if c.bare {
				oc.transfers = 0
			}
			fmt.Fprintf(os.Stderr, "labbench: round %d of %d: %s\n", round+1, o.runs, c.name)
			ctx, cancel := context.WithTimeout(sctx, o.timeout)
			an, err := run(ctx, oc)
			cancel()
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			p := &pooled[i]
			p.startLags = append(p.startLags, an.startLags...)
			p.stopLags = append(p.stopLags, an.stopLags...)
			p.reactLags = append(p.reactLags, an.reactLags...)
			p.delivery = append(p.delivery, an.delivery...)
		}
	}
	fmt.Printf("\nside by side, %d rounds in rotating order, %d calls each:\n", o.runs, o.n)
	compareTable(os.Stdout, cs, pooled)
	return nil
}

func compareTable(w io.Writer, cs []contender, pooled []analysis) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ms, pooled\tanswer → started p50\tp99\ttransfer → finished p50\tp99\texternal-only → finished p50\tp99\tPBX → observer p99\t")
	cell := func(xs []float64, q float64) string {
		if len(xs) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.0f", pct(xs, q))
	}
	for i, c := range cs {
		a := pooled[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t\n", c.name, cell(a.startLags, 50), cell(a.startLags, 99),
			cell(a.stopLags, 50), cell(a.stopLags, 99), cell(a.reactLags, 50), cell(a.reactLags, 99), pct(a.delivery, 99))
	}
	tw.Flush()
}
