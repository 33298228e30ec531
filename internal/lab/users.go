package lab

import (
	"fmt"
	"strings"
)

// LabUser is one of the demo tenant's users 1001..1004 (`callrecd import`): its phone
// and its recording flags.
type LabUser struct {
	Extension                    string // "1001".."1004"
	InInt, InExt, OutInt, OutExt bool   // call_record_{incoming,outgoing}_{internal,external}_enabled
	Online                       bool   // online_call_record_enabled (*3)
	Firstname, Lastname          string // default "Lab", the extension
}

// labUserUUIDs are the users' fixed uuids (1001 and 1002 are the README's Alice and Bob).
var labUserUUIDs = map[string]string{
	"1001": "b2e98781-7118-4010-8da3-b93b1b7e1389", "1002": "def42192-837a-41e0-aa4e-86390e46eb17",
	"1003": "5f0c7a53-2d1e-4c6b-9a8f-0b1c2d3e1003", "1004": "5f0c7a53-2d1e-4c6b-9a8f-0b1c2d3e1004",
}

// LabUserUUID is the uuid ImportYAML gives the user of extension ext.
func LabUserUUID(ext string) string { return labUserUUIDs[ext] }

// RecordEverything: users 1001..1004 with every automatic recording flag on (the load
// driver's set-up).
func RecordEverything() []LabUser {
	var us []LabUser
	for _, ext := range []string{"1001", "1002", "1003", "1004"} {
		us = append(us, LabUser{Extension: ext, InInt: true, InExt: true, OutInt: true, OutExt: true, Firstname: "Bench"})
	}
	return us
}

// ImportYAML is a `callrecd import` file: the demo tenant (audio on, WAV, *3 pauses,
// the external-to-external rule on) and the given users.
func ImportYAML(users []LabUser) string {
	var b strings.Builder
	fmt.Fprintf(&b, "tenants:\n  - uuid: %s\n    name: Acme\n    audio_recording_enabled: true\n    record_external_to_external: false\n    format: wav\n    online_record_mode: pause\n", DemoTenant)
	b.WriteString("users:\n")
	for _, u := range users {
		first, last := u.Firstname, u.Lastname
		if first == "" {
			first = "Lab"
		}
		if last == "" {
			last = u.Extension
		}
		id := labUserUUIDs[u.Extension]
		fmt.Fprintf(&b, "  - uuid: %s\n    tenant_uuid: %s\n    extension: %q\n    firstname: %s\n    lastname: %q\n    endpoints: [%q]\n"+
			"    call_record_incoming_internal_enabled: %t\n    call_record_incoming_external_enabled: %t\n"+
			"    call_record_outgoing_internal_enabled: %t\n    call_record_outgoing_external_enabled: %t\n"+
			"    online_call_record_enabled: %t\n",
			id, DemoTenant, u.Extension, first, last, u.Extension, u.InInt, u.InExt, u.OutInt, u.OutExt, u.Online)
	}
	return b.String()
}
