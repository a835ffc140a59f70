// Reading a Dockerfile into its stages and instructions, so that tests can
// run its commands without a container engine. Handles what switchboard's
// Dockerfile uses: comments, `\` line continuations, `FROM image AS name`,
// and the JSON (exec) form of ENTRYPOINT, CMD and HEALTHCHECK CMD.

import { readFileSync } from 'node:fs';

/**
 * @param {string} file the Dockerfile's path
 * @returns {{name: string, image: string, instructions: {op: string, args: string}[]}[]} its stages, in order
 */
export function readDockerfile(file) {
  const logical = [];
  let pending = '';
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue; // a comment inside a continued instruction
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(pending + line);
    pending = '';
  }
  const stages = [];
  for (const line of logical) {
    const [, op, args] = line.match(/^(\S+)\s+(.*)$/);
    if (op.toUpperCase() === 'FROM') {
      const [, image, name] = args.match(/^(\S+)(?:\s+AS\s+(\S+))?$/i);
      stages.push({ name: name ?? String(stages.length), image, instructions: [] });
    } else {
      stages.at(-1).instructions.push({ op: op.toUpperCase(), args: args.trim() });
    }
  }
  return stages;
}

/** The instructions of `stage` named `op`. */
export function all(stage, op) {
  return stage.instructions.filter((i) => i.op === op).map((i) => i.args);
}

/** The one instruction of `stage` named `op` (the last, as Docker reads it). */
export function last(stage, op) {
  return all(stage, op).at(-1);
}

/** `KEY=value KEY2=value2` (ENV's modern form) as an object. */
export function envOf(stage) {
  const env = {};
  for (const args of all(stage, 'ENV')) {
    for (const pair of args.split(/\s+/)) {
      const eq = pair.indexOf('=');
      if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

/** An exec-form `["a", "b"]` argument list, refusing the shell form. */
export function execForm(args) {
  const list = JSON.parse(args);
  if (!Array.isArray(list)) throw new Error(`not the exec form: ${args}`);
  return list;
}
