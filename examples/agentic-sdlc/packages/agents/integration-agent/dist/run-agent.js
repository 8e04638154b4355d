// Example workload for tend's agentic-sdlc example: the integration agent (a stand-in
// for a compiled agent). The code is shared: see packages/agents/shared/agent.js.
'use strict';
require('../../shared/agent.js').start({ name: 'integration-agent', stage: 'integration', defaultPort: 3104 });
