// Package media owns recording files on disk: where they live and how they are
// named (Wazo's layout), moving a finished recording from the PBX's spool into
// that layout atomically, WAV header inspection and repair, transcoding to
// MP3/AMR with ffmpeg, the free-space guard, reconciling the layout with the
// index (Reindexer) and per-tenant retention (Retention, RunDaily). The index
// is reached through small interfaces owned here (Index, RetentionIndex),
// which store implements.
//
// Layout under the storage root:
//
//	<root>/tenants/<tenant_uuid>/monitor/<YYYY-MM-DDTHH_MM_SSUTC>-<call id>-<recording uuid>.<ext>
//
// Every name that comes from outside (API, PBX event, directory walk) is
// validated before it touches a path, and resolved paths must stay under the
// root even through symlinks.
package media
