package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/callrecd/callrecd/store"
	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

// importFile is the YAML shape `callrecd import` reads. Field names follow
// Wazo's confd so an export of confd data maps over directly.
type importFile struct {
	Tenants []importTenant `yaml:"tenants"`
	Users   []importUser   `yaml:"users"`
	Groups  []importGroup  `yaml:"groups"`
	Queues  []importGroup  `yaml:"queues"`
}

type importTenant struct {
	UUID                     string `yaml:"uuid"`
	Name                     string `yaml:"name"`
	AudioRecordingEnabled    *bool  `yaml:"audio_recording_enabled"`
	VideoRecordingEnabled    bool   `yaml:"video_recording_enabled"`
	RecordExternalToExternal bool   `yaml:"record_external_to_external"`
	Format                   string `yaml:"format"`
	OnlineRecordMode         string `yaml:"online_record_mode"`
	AnnounceRecording        bool   `yaml:"announce_recording"`
	DTMFTimeout              string `yaml:"dtmf_timeout"`
	Timezone                 string `yaml:"timezone"`
	CDRDays                  *int   `yaml:"cdr_days"`
	RecordingDays            *int   `yaml:"recording_days"`
	ExportDays               *int   `yaml:"export_days"`
}

type importUser struct {
	UUID                              string   `yaml:"uuid"`
	Tenant                            string   `yaml:"tenant_uuid"`
	Extension                         string   `yaml:"extension"`
	Firstname                         string   `yaml:"firstname"`
	Lastname                          string   `yaml:"lastname"`
	Email                             string   `yaml:"email"`
	Endpoints                         []string `yaml:"endpoints"`
	CallRecordIncomingInternalEnabled bool     `yaml:"call_record_incoming_internal_enabled"`
	CallRecordIncomingExternalEnabled bool     `yaml:"call_record_incoming_external_enabled"`
	CallRecordOutgoingInternalEnabled bool     `yaml:"call_record_outgoing_internal_enabled"`
	CallRecordOutgoingExternalEnabled bool     `yaml:"call_record_outgoing_external_enabled"`
	OnlineCallRecordEnabled           bool     `yaml:"online_call_record_enabled"`
	RecordAudio                       *bool    `yaml:"record_audio"`
	RecordVideo                       bool     `yaml:"record_video"`
}

type importGroup struct {
	UUID             string   `yaml:"uuid"`
	Tenant           string   `yaml:"tenant_uuid"`
	Name             string   `yaml:"name"`
	Label            string   `yaml:"label"`
	DTMFRecordToggle bool     `yaml:"dtmf_record_toggle"`
	Members          []string `yaml:"members"`
}

func newImportCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE",
		Short: "Create or replace tenants, users, groups and queues from a YAML file (all or nothing)",
		Long: `Import settings from a YAML file with top-level lists tenants, users, groups and queues
(see testdata/import.example.yaml). Objects are matched by uuid: new ones are created,
existing ones replaced by what the file says. The whole file is applied in one
transaction: if any object is refused, nothing is written.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			set, err := readImportFile(args[0])
			if err != nil {
				return usageError{err}
			}
			s, cfg, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			sum, err := s.Import(cmd.Context(), set, cfg.Defaults.FeatureCodes)
			if err != nil {
				if errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrConflict) {
					return usageError{fmt.Errorf("%s: nothing imported: %w", args[0], err)}
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "imported %s: %d created, %d replaced\n", args[0], sum.Created, sum.Updated)
			return nil
		},
	}
}

// readImportFile parses and checks the file; unknown fields are errors.
func readImportFile(path string) (store.ImportSet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return store.ImportSet{}, err
	}
	var f importFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return store.ImportSet{}, fmt.Errorf("%s: %w", path, err)
	}
	var set store.ImportSet
	var errs []error
	bad := func(where, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: %s", path, where, fmt.Sprintf(format, a...)))
	}
	checkUUID := func(where, v string) {
		if _, err := uuid.Parse(v); err != nil || len(v) != 36 {
			bad(where, "%q is not a UUID", v)
		}
	}
	for i, t := range f.Tenants {
		where := fmt.Sprintf("tenants[%d]", i)
		checkUUID(where+".uuid", t.UUID)
		tn := store.NewTenant(t.UUID, t.Name)
		if t.Name == "" {
			bad(where+".name", "is required")
		}
		if t.AudioRecordingEnabled != nil {
			tn.AudioRecordingEnabled = *t.AudioRecordingEnabled
		}
		tn.VideoRecordingEnabled, tn.RecordExternalToExternal, tn.AnnounceRecording =
			t.VideoRecordingEnabled, t.RecordExternalToExternal, t.AnnounceRecording
		if t.Format != "" {
			tn.Format = t.Format
		}
		if t.OnlineRecordMode != "" {
			tn.OnlineRecordMode = t.OnlineRecordMode
		}
		if t.Timezone != "" {
			tn.Timezone = t.Timezone
		}
		if t.DTMFTimeout != "" {
			d, err := time.ParseDuration(t.DTMFTimeout)
			if err != nil {
				bad(where+".dtmf_timeout", "%q is not a duration such as 3s", t.DTMFTimeout)
			}
			tn.DTMFTimeout = d
		}
		tn.Retention = store.Retention{CDRDays: t.CDRDays, RecordingDays: t.RecordingDays, ExportDays: t.ExportDays}
		set.Tenants = append(set.Tenants, tn)
	}
	for i, u := range f.Users {
		where := fmt.Sprintf("users[%d]", i)
		checkUUID(where+".uuid", u.UUID)
		checkUUID(where+".tenant_uuid", u.Tenant)
		recordAudio := true
		if u.RecordAudio != nil {
			recordAudio = *u.RecordAudio
		}
		set.Users = append(set.Users, store.User{UUID: u.UUID, TenantUUID: u.Tenant, Extension: u.Extension,
			Firstname: u.Firstname, Lastname: u.Lastname, Email: u.Email, Endpoints: u.Endpoints,
			CallRecordIncomingInternalEnabled: u.CallRecordIncomingInternalEnabled,
			CallRecordIncomingExternalEnabled: u.CallRecordIncomingExternalEnabled,
			CallRecordOutgoingInternalEnabled: u.CallRecordOutgoingInternalEnabled,
			CallRecordOutgoingExternalEnabled: u.CallRecordOutgoingExternalEnabled,
			OnlineCallRecordEnabled:           u.OnlineCallRecordEnabled, RecordAudio: recordAudio, RecordVideo: u.RecordVideo})
	}
	for kind, list := range map[string][]importGroup{store.KindGroup: f.Groups, store.KindQueue: f.Queues} {
		for i, gr := range list {
			where := fmt.Sprintf("%ss[%d]", kind, i)
			checkUUID(where+".uuid", gr.UUID)
			checkUUID(where+".tenant_uuid", gr.Tenant)
			if gr.Name == "" {
				bad(where+".name", "is required")
			}
			set.Groups = append(set.Groups, store.Group{UUID: gr.UUID, TenantUUID: gr.Tenant, Kind: kind, Name: gr.Name,
				Label: gr.Label, DTMFRecordToggle: gr.DTMFRecordToggle, Members: gr.Members})
		}
	}
	if len(errs) > 0 {
		return store.ImportSet{}, errors.Join(errs...)
	}
	return set, nil
}
