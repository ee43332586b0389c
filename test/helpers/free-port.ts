/** A TCP port free on 127.0.0.1 right now (the stand-ins' helper, which `npm start` uses too). */
export { freePort } from '@herald/stand-ins';
