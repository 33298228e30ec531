// The Recording settings page (administrators): the tenant's options and
// retention, each user's flags, the ring groups' and queues' *3 setting,
// and the feature codes. Each part loads and saves on its own, through the
// same API every client uses.
import { h } from './dom.js';
import { tenantSection, retentionSection } from './settings-tenant.js';
import { usersSection } from './settings-users.js';
import { groupsSection } from './settings-groups.js';
import { featuresSection } from './settings-features.js';

export function settingsPage(root) {
  const parts = [tenantSection(), retentionSection(), usersSection(), groupsSection('group'),
    groupsSection('queue'), featuresSection()];
  root.append(h('h1', {}, 'Recording settings'), ...parts.map((p) => p.el));
  for (const p of parts) p.load();
  return () => { for (const p of parts) p.dispose(); };
}
