// Example workload for tend's agentic-sdlc example: the e2e agent (a stand-in
// for a compiled agent). The code is shared: see packages/agents/shared/agent.js.
'use strict';
require('../../shared/agent.js').start({ name: 'e2e-agent', stage: 'e2e', defaultPort: 3103 });
