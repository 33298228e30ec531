// Drives a running callrecd with Wazo's own JavaScript SDK (@wazo/sdk, its
// API client objects, the token set directly) and parses every answer into
// the SDK's models. wazosdk_test.go starts callrecd and runs this; it reads
// what to do from WAZOSDK_* variables and prints one JSON line per check.
// Any failure exits 1.
'use strict';

const crypto = require('node:crypto');
const { WazoApiClient, Profile, CallLog, Recording, BadResponse } = require('@wazo/sdk');

const env = (name) => {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`${name} is not set`);
  return v;
};

const server = env('WAZOSDK_SERVER'); // host:port; the SDK calls https://<server>/api
const parts = env('WAZOSDK_PARTS').split(',');

function client(token) {
  const c = new WazoApiClient({ server, clientId: 'callrecd-compat' });
  c.setToken(token);
  // A token refresh would hide a wrong status: none is configured, and a
  // refresh attempt fails the run.
  c.setRefreshToken(null);
  c.disableErrorLogging();
  return c;
}

function check(name, ok, detail) {
  console.log(JSON.stringify({ check: name, ok: !!ok, detail }));
  if (!ok) throw new Error(`${name} failed: ${JSON.stringify(detail)}`);
}

async function confd() {
  const admin = client(env('WAZOSDK_ADMIN_TOKEN'));
  const uuid = env('WAZOSDK_USER_UUID');
  const p = await admin.confd.getUser(uuid);
  check('confd.getUser parses into Profile', p instanceof Profile && p.id === uuid && p.lines.length > 0 &&
    p.forwards.length === 3 && p.doNotDisturb === false, { id: p.id, lines: p.lines.length });
  const done = await admin.confd.updateUser(uuid, { ...p, firstName: 'Olya', mobileNumber: '+15550100' });
  check('confd.updateUser (with mobile_phone_number)', done === true, done);
  const again = await admin.confd.getUser(uuid);
  check('confd.updateUser took effect', again.firstName === 'Olya', again.firstName);
}

async function callLogd() {
  const user = client(env('WAZOSDK_USER_TOKEN'));
  const admin = client(env('WAZOSDK_ADMIN_TOKEN'));
  const number = env('WAZOSDK_PEER_NUMBER');
  const allLogs = (logs) => Array.isArray(logs) && logs.every((l) => l instanceof CallLog &&
    l.start instanceof Date && !isNaN(l.start) && l.recordings.every((r) => r instanceof Recording));

  const logs = await user.callLogd.listCallLogs(0, 10);
  check('callLogd.listCallLogs parses into CallLog', allLogs(logs) && logs.length >= 2, logs.length);
  for (let i = 1; i < logs.length; i++) {
    check('callLogd.listCallLogs newest first', logs[i - 1].start >= logs[i].start, [logs[i - 1].start, logs[i].start]);
  }
  const rec = logs.flatMap((l) => l.recordings.map((r) => ({ log: l, rec: r })))[0];
  check('a call log has a recording', rec && rec.rec.uuid && rec.rec.fileName, rec && rec.rec);

  const found = await user.callLogd.search(number, 10);
  check('callLogd.search', allLogs(found) && found.length >= 1, found.length);
  const by = await user.callLogd.searchBy('number', number, 10);
  check('callLogd.searchBy number', allLogs(by) && by.length >= 1, by.length);
  const distinct = await user.callLogd.listDistinctCallLogs(0, 10, 'peer_exten');
  const peers = distinct.map((l) => l.theOtherParty({ hasExtension: (e) => e === env('WAZOSDK_USER_EXTEN') }).extension);
  check('callLogd.listDistinctCallLogs: one per peer', allLogs(distinct) && new Set(peers).size === peers.length &&
    distinct.length < logs.length, peers);
  const since = await user.callLogd.listCallLogsFromDate(new Date('2000-01-01T00:00:00Z'), number);
  check('callLogd.listCallLogsFromDate', allLogs(since) && since.length >= 1, since.length);

  // A user's CDRs (admin) through the SDK's requester, parsed by the SDK.
  const ofUser = CallLog.parseMany(await admin.client.get(`call-logd/1.0/users/${env('WAZOSDK_USER_UUID')}/cdr`, { limit: 10 }));
  check('users/{uuid}/cdr parses into CallLog', allLogs(ofUser) && ofUser.length === logs.length, ofUser.length);

  // The recording's bytes, fetched with the SDK's own headers (Accept:
  // application/json): Wazo ignores Accept and sends the file.
  const media = await user.client.get(`call-logd/1.0/users/me/cdr/${rec.log.id}/recordings/${rec.rec.uuid}/media`,
    null, null, async (res) => ({ status: res.status, type: res.headers.get('content-type'), body: Buffer.from(await res.arrayBuffer()) }));
  const sum = crypto.createHash('sha256').update(media.body).digest('hex');
  check('recording media, byte for byte', media.status === 200 && media.type === 'audio/wav' &&
    sum === env('WAZOSDK_MEDIA_SHA256'), { status: media.status, type: media.type, sha256: sum });

  // A valid token without the right is a 403 in Wazo's error shape, not a
  // 401 the SDK would take for an expired token.
  let err;
  try {
    await admin.callLogd.listCallLogs(0, 1);
  } catch (e) {
    err = e;
  }
  check('wrong role: BadResponse 403 with Wazo error keys', err instanceof BadResponse && err.status === 403 &&
    err.errorId && err.timestamp && err.details, err && { status: err.status, errorId: err.errorId });
}

async function calld() {
  const user = client(env('WAZOSDK_USER_TOKEN'));
  const callId = env('WAZOSDK_CALL_ID');
  for (const verb of ['start', 'pause', 'resume', 'stop']) {
    const ok = await user.calld[`${verb}Recording`](callId);
    check(`calld.${verb}Recording`, ok === true, ok);
  }
}

(async () => {
  const steps = { confd, calllogd: callLogd, calld };
  for (const p of parts) {
    if (!steps[p]) throw new Error(`unknown part ${p}`);
    await steps[p]();
  }
  console.log(JSON.stringify({ done: parts }));
  process.exit(0); // the SDK's request timers would keep node alive
})().catch((e) => {
  console.log(JSON.stringify({ error: String(e && e.stack || e) }));
  process.exit(1);
});
