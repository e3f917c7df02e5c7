// guard.js is preloaded (node --require) into the Node.js emulators. dynalite
// rethrows the error of a request whose client hung up mid-request
// (ECONNRESET "aborted"), which kills the whole emulator and every other
// test's tables with it; a client that cancels a call is normal, so such
// errors are logged and dropped here. Any other uncaught error still ends
// the process, as it would without this file.
'use strict'

const hangUps = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE'])

process.on('uncaughtException', (err) => {
  if (err && (hangUps.has(err.code) || err.message === 'aborted')) {
    console.error(`[guard] client hung up mid-request (${err.code || err.message}); ignored`)
    return
  }
  console.error(err && err.stack ? err.stack : err)
  process.exit(1)
})
