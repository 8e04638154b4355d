// Example workload for tend's agentic-sdlc example: the scaffold agent (a stand-in
// for a compiled agent). The code is shared: see packages/agents/shared/agent.js.
'use strict';
require('../../shared/agent.js').start({ name: 'scaffold-agent', stage: 'scaffold', defaultPort: 3101 });
