// Regenerates the checked-in fixtures with Node's own JSON.parse and
// JSON.stringify (node make-fixtures.js). The Swift tests compare Vigil's
// writer with these files when node is not installed, and with node itself
// when it is.
'use strict';
const fs = require('fs');

const CLOSED_AT = '2026-11-21T12:30:45.123Z';
const REMOVED = ['codexAppDispatchLedger', 'codexAppGenerationCommits', 'queuedActivationPending',
  'queuedActivationTail', 'pendingRepoSetup', 'previewTarget'];

// A store as botmux writes it: JSON.stringify(obj, null, 2), no newline.
const store = {};
function add(session) { store[session.sessionId] = session; }
add({
  sessionId: '0a1b2c3d-0000-4000-8000-000000000001', chatId: 'oc_1', rootMessageId: 'om_1',
  title: 'half an emoji \ud83d, a whole one \ud83d\ude00, \u00e9, a\u2028line, tab\tnl\nq"b\\s/ \u0001\u001f\u007f',
  status: 'active', createdAt: '2026-11-01T08:00:00.000Z', cliId: 'claude-code', larkAppId: 'cli_a',
  backendType: 'tmux', previewTarget: { host: '127.0.0.1', port: 5173 },
  numbers: [0, -1, 1.5, 1e21, 1e-7, 123456789012, -0.25], empty: {}, none: [], nested: { '10': 'ten', '2': 'two', x: [[], [{}], { a: null, b: true, c: false }] },
  codexAppDispatchLedger: [], codexAppGenerationCommits: { g1: 1 }, queuedActivationTail: [],
});
add({
  sessionId: '0a1b2c3d-0000-4000-8000-000000000002', chatId: 'oc_2', title: 'already has closedAt',
  status: 'active', closedAt: '2026-10-01T00:00:00.000Z', cliId: 'codex', larkAppId: 'cli_a', backendType: 'tmux',
  pendingRepoSetup: null, workerGeneration: 7,
});
add({
  sessionId: '0a1b2c3d-0000-4000-8000-000000000003', title: 'untouched \ud800 lone high', status: 'active',
  backendType: 'herdr', persistentBackendTarget: { backendType: 'herdr', sessionName: 'host', agentName: 'a1' },
});
add({ sessionId: '0a1b2c3d-0000-4000-8000-000000000004', status: 'closed', closedAt: '2026-09-09T09:09:09.009Z' });
add({
  sessionId: '0a1b2c3d-0000-4000-8000-000000000005', status: 'active', backendType: 'zellij', cliId: 'claude-code',
  replyTargets: { om_a: { rootMessageId: 'om_a', updatedAt: '2026-11-02T00:00:00.000Z' } }, queued: false,
  lastCliInput: 'mixed \ufeff bom-like and \u2029 and \u0000 nul',
});
const input = JSON.stringify(store, null, 2);
fs.writeFileSync('store.json', input);

function close(text, ids) {
  const obj = JSON.parse(text);
  for (const id of ids) {
    const s = obj[id];
    s.status = 'closed';
    s.closedAt = CLOSED_AT;
    for (const k of REMOVED) delete s[k];
  }
  return JSON.stringify(obj, null, 2);
}
fs.writeFileSync('store.closed.json', close(input, ['0a1b2c3d-0000-4000-8000-000000000001',
  '0a1b2c3d-0000-4000-8000-000000000002', '0a1b2c3d-0000-4000-8000-000000000005']));

// A store botmux did not write: compact, escapes JSON.stringify would not
// use, a key given twice in a record, array-index keys out of order.
const odd = '{"0a1b2c3d-0000-4000-8000-0000000000aa":{"sessionId":"0a1b2c3d-0000-4000-8000-0000000000aa","status":"active",'
  + '"t\\u0069tle":"\\u00e9\\/\\u2028\\ud83d\\ude00\\ud83d\\uDE00\\uD83D \\b\\f\\u000b","n":1,"3":"c","1":"a","title":"second wins",'
  + '"deep":{"9":[100,{"b":1,"a":2,"b":3}],"08":"not an index","4294967295":"not an index","4294967294":"index"},'
  + '"previewTarget":{"port":1},"closedAt":null}, "0a1b2c3d-0000-4000-8000-0000000000bb" : {"status":"active","sessionId":"0a1b2c3d-0000-4000-8000-0000000000bb"}}';
fs.writeFileSync('odd.json', odd);
fs.writeFileSync('odd.closed.json', close(odd, ['0a1b2c3d-0000-4000-8000-0000000000aa', '0a1b2c3d-0000-4000-8000-0000000000bb']));
