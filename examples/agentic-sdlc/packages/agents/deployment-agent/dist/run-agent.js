// Example workload for tend's agentic-sdlc example: the deployment agent (a stand-in
// for a compiled agent). The code is shared: see packages/agents/shared/agent.js.
'use strict';
require('../../shared/agent.js').start({ name: 'deployment-agent', stage: 'deployment', defaultPort: 3105 });
