// The session-key fixer. OpenClaw can store a session under its short key (`main`) while
// `chat.history` looks it up under the canonical key (`agent:main:main`), so history seems lost.
// Every 3 seconds this renames short keys that hold session data to `agent:<agent>:<key>` in
// <state dir>/agents/<agent>/sessions/sessions.json, writing through a temp file and a rename so
// the gateway never reads a half-written file. A key already canonical is left alone, and a short
// key never overwrites an existing canonical entry.
// Usage: node fix-session-keys.mjs <state dir>
import fs from "node:fs";
import path from "node:path";

const stateDir = process.argv[2] ?? "/home/node/.openclaw";
const intervalMs = 3000;

export function canonicalize(agent, sessions) {
  const prefix = `agent:${agent}:`;
  let changed = false;
  const out = {};
  for (const [key, value] of Object.entries(sessions)) {
    if (key.startsWith("agent:") || !value || typeof value !== "object" || !value.sessionId) {
      out[key] = out[key] ?? value;
      continue;
    }
    const canonical = prefix + key;
    if (!(canonical in sessions)) {
      out[canonical] = value;
      changed = true;
    } else {
      out[key] = value;
    }
  }
  return changed ? out : null;
}

function fixOnce() {
  const agentsDir = path.join(stateDir, "agents");
  let agents = [];
  try {
    agents = fs.readdirSync(agentsDir);
  } catch {
    return;
  }
  for (const agent of agents) {
    const file = path.join(agentsDir, agent, "sessions", "sessions.json");
    try {
      const fixed = canonicalize(agent, JSON.parse(fs.readFileSync(file, "utf8")));
      if (fixed) {
        const tmp = `${file}.fixer-${process.pid}`;
        fs.writeFileSync(tmp, JSON.stringify(fixed, null, 2));
        fs.renameSync(tmp, file);
        console.log(`[session-key-fixer] canonicalized session keys in ${file}`);
      }
    } catch {
      // Missing or mid-write file: try again on the next tick.
    }
  }
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  setInterval(fixOnce, intervalMs);
}
