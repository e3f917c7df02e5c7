// health.js asks one emulator a real question over HTTP and exits 0 when it
// answers like that emulator would, 1 otherwise (the reason on stderr).
//
//   node health.js kinesis|dynamodb|s3|sns PORT [HOST]
'use strict'

const http = require('http')

const [name, port, host = '127.0.0.1'] = process.argv.slice(2)

// Requests that need no signature and the answers that prove the right
// server is listening.
const probes = {
  kinesis: {
    method: 'POST',
    path: '/',
    headers: {
      'Content-Type': 'application/x-amz-json-1.1',
      'X-Amz-Target': 'Kinesis_20131202.ListStreams',
      'X-Amz-Date': new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, ''),
      Authorization: 'AWS4-HMAC-SHA256 Credential=S3RVER/20200101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: '{}',
    ok: (status, body) => status === 200 && body.includes('StreamNames'),
  },
  dynamodb: {
    method: 'POST',
    path: '/',
    headers: {
      'Content-Type': 'application/x-amz-json-1.0',
      'X-Amz-Target': 'DynamoDB_20120810.ListTables',
    },
    body: '{}',
    // Unsigned, dynalite answers with a DynamoDB-shaped JSON error.
    ok: (status, body) => status < 500 && body.includes('__type'),
  },
  s3: {
    method: 'GET',
    path: '/',
    headers: {},
    body: '',
    // Unsigned, s3rver answers with an S3-shaped XML error.
    ok: (status, body) => status < 500 && body.includes('<?xml'),
  },
  sns: {
    method: 'GET',
    path: '/health',
    headers: {},
    body: '',
    ok: (status, body) => status === 200 && body.trim() === 'OK',
  },
}

const probe = probes[name]
if (!probe || !/^\d+$/.test(port || '')) {
  console.error('usage: node health.js kinesis|dynamodb|s3|sns PORT [HOST]')
  process.exit(2)
}

const req = http.request({
  host,
  port: Number(port),
  method: probe.method,
  path: probe.path,
  headers: Object.assign({ 'Content-Length': Buffer.byteLength(probe.body) }, probe.headers),
  timeout: 3000,
}, (res) => {
  let body = ''
  res.setEncoding('utf8')
  res.on('data', (chunk) => { if (body.length < 65536) body += chunk })
  res.on('end', () => {
    if (probe.ok(res.statusCode, body)) process.exit(0)
    console.error(`${name} on ${host}:${port} answered HTTP ${res.statusCode}: ${body.slice(0, 200)}`)
    process.exit(1)
  })
})
req.on('timeout', () => req.destroy(new Error('no answer within 3s')))
req.on('error', (err) => {
  console.error(`${name} on ${host}:${port}: ${err.message}`)
  process.exit(1)
})
req.end(probe.body)
