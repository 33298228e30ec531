// Command callrecd is the call-recording sidecar: one binary for the daemon
// and its administration (migrate, token, import, version).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/callrecd/callrecd/config"
	"github.com/callrecd/callrecd/store"
	"github.com/spf13/cobra"
)

// Exit statuses: 2 for a bad configuration or command line, 1 for anything
// that went wrong while working.
const (
	exitFailure = 1
	exitUsage   = 2
)

// usageError marks errors that are the caller's to fix (exit 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "callrecd:", err)
	var ce *config.Error
	var ue usageError
	if errors.As(err, &ce) || errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailure
}

// globals are the flags every subcommand shares.
type globals struct {
	configPath string
	dbPath     string
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "callrecd",
		Short: "Call-recording control for Asterisk and FreeSWITCH",
		Long: `callrecd runs next to an Asterisk (ARI) or FreeSWITCH (ESL) and decides which calls are
recorded: automatically by user, tenant, group and queue settings, on demand with *3,
*26, *48/*49, over REST and SIP MESSAGE. It keeps an index of every recording in SQLite
behind a Wazo-compatible REST API.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVarP(&g.configPath, "config", "c", "",
		"configuration file (default: $CALLRECD_CONFIG, else /etc/callrecd/callrecd.yaml if it exists)")
	root.PersistentFlags().StringVar(&g.dbPath, "db", "", "SQLite database file (overrides database.path)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newServeCmd(g), newMigrateCmd(g), newTokenCmd(g), newImportCmd(g), newVersionCmd(g), newReindexCmd(g),
		newExportCmd(g), newDoctorCmd(g))
	root.AddCommand(newSIPCredentialCmd(g))
	root.AddCommand(newAccountCmd(g))
	return root
}

const defaultConfigPath = "/etc/callrecd/callrecd.yaml"

// load reads the configuration with flag overrides applied.
func (g *globals) load(extra map[string]any) (config.Config, error) {
	path := g.configPath
	if path == "" {
		path = os.Getenv("CALLRECD_CONFIG")
	}
	if path == "" {
		if _, err := os.Stat(defaultConfigPath); err == nil {
			path = defaultConfigPath
		}
	}
	overrides := map[string]any{}
	if g.dbPath != "" {
		overrides["database.path"] = g.dbPath
	}
	for k, v := range extra {
		overrides[k] = v
	}
	// CALLRECD_CONFIG names the file; it is not a configuration key.
	environ := []string{}
	for _, kv := range os.Environ() {
		if len(kv) < len("CALLRECD_CONFIG=") || kv[:len("CALLRECD_CONFIG=")] != "CALLRECD_CONFIG=" {
			environ = append(environ, kv)
		}
	}
	return config.Load(path, environ, overrides)
}

// openStore opens the index and requires its schema to be current.
func (g *globals) openStore(ctx context.Context) (*store.Store, config.Config, error) {
	cfg, err := g.load(nil)
	if err != nil {
		return nil, cfg, err
	}
	s, err := store.OpenCurrent(ctx, cfg.Database.Path)
	return s, cfg, err
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
