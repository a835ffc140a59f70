// deploy/systemd/switchboard.service passes `systemd-analyze verify` (from
// Debian's systemd package, which scripts/test installs when missing) with
// no warning, and `systemd-analyze security` rates its sandbox well.
//
// verify checks that ExecStart's binary exists, so the test verifies a copy
// of the unit whose ExecStart names the binary scripts/test built instead of
// /usr/local/bin/switchboard; nothing else is changed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { repoRoot, switchboardBin } from './support/servers.mjs';

const UNIT = path.join(repoRoot, 'deploy', 'systemd', 'switchboard.service');
const INSTALLED = '/usr/local/bin/switchboard';
/** `systemd-analyze security`'s exposure, 0 (sandboxed) to 10, times 10. */
const MOST_EXPOSURE = 20;

function withBuiltBinary() {
  const text = readFileSync(UNIT, 'utf8');
  assert.match(text, /^ExecStart=\/usr\/local\/bin\/switchboard serve --config \/etc\/switchboard\/switchboard\.toml$/m);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-unit-'));
  const file = path.join(dir, 'switchboard.service');
  writeFileSync(file, text.replaceAll(INSTALLED, switchboardBin()));
  return { file, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('the systemd unit passes systemd-analyze verify without a warning', () => {
  const unit = withBuiltBinary();
  try {
    const verify = spawnSync('systemd-analyze', ['verify', '--man=no', unit.file], { encoding: 'utf8' });
    assert.equal(verify.error, undefined, 'systemd-analyze is installed (Debian package systemd)');
    // An unknown or misspelt key is only a warning: fail on any output.
    assert.equal(verify.stderr + verify.stdout, '');
    assert.equal(verify.status, 0);
  } finally {
    unit.done();
  }
});

test('the systemd unit is sandboxed (systemd-analyze security)', () => {
  const unit = withBuiltBinary();
  try {
    const security = spawnSync('systemd-analyze', ['security', '--offline=true', `--threshold=${MOST_EXPOSURE}`, unit.file], {
      encoding: 'utf8',
    });
    const overall = security.stdout.match(/Overall exposure level for \S+: ([\d.]+)/);
    assert.ok(overall, security.stdout + security.stderr);
    assert.equal(security.status, 0, `exposure ${overall[1]} is above ${MOST_EXPOSURE / 10}`);
    const unit_text = readFileSync(UNIT, 'utf8');
    for (const line of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'CapabilityBoundingSet=', 'Restart=on-failure']) {
      assert.match(unit_text, new RegExp(`^${line}$`, 'm'));
    }
    console.log(`systemd-analyze security: overall exposure ${overall[1]}`);
  } finally {
    unit.done();
  }
});
