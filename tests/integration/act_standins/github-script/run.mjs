// Runs a github-script `script` with stand-ins for `github`, `context` and `core`: listComments
// answers the comments in STANDIN_COMMENTS (JSON); every write is appended to STANDIN_CALLS.
import fs from 'node:fs';
import { createRequire } from 'node:module';

const comments = JSON.parse(fs.readFileSync(process.env.STANDIN_COMMENTS, 'utf8'));
const record = (call) => fs.appendFileSync(process.env.STANDIN_CALLS, JSON.stringify(call) + '\n');
const github = {
  paginate: async (method, params) => method(params),
  rest: {
    issues: {
      listComments: async () => comments,
      updateComment: async (params) => record({ call: 'updateComment', ...params }),
      createComment: async (params) => record({ call: 'createComment', ...params }),
    },
  },
};
const [owner, repo] = (process.env.GITHUB_REPOSITORY || 'owner/repo').split('/');
const context = { repo: { owner, repo }, issue: { number: Number(process.env.STANDIN_ISSUE || 0) } };
const core = { setFailed: (message) => { console.error(message); process.exitCode = 1; } };
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
await new AsyncFunction('github', 'context', 'core', 'require', process.env.SCRIPT)(
  github, context, core, createRequire(import.meta.url));
