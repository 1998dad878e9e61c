// Mints a refresh token the way LibreChat's generateRefreshToken does:
// jwt.sign({ id, sessionId }, process.env.JWT_REFRESH_SECRET, { expiresIn }).
// Reads one JSON object from argv[2]: {secret, payload, expiresIn, algorithm?}.
// `algorithm` and raw `payload` exist only so tests can forge what LibreChat never sends.
'use strict';
const jwt = require('jsonwebtoken');

const request = JSON.parse(process.argv[2]);
const options = { expiresIn: request.expiresIn };
if (request.algorithm) {
  options.algorithm = request.algorithm;
}
const secret = request.algorithm === 'none' ? undefined : request.secret;
process.stdout.write(jwt.sign(request.payload, secret, options));
