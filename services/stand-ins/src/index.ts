/**
 * Local protocol peers for tests and the local stack. Each speaks the real protocol, so the
 * real SDKs (nodemailer, twilio, web-push) talk to them unchanged; only addresses and
 * credentials differ from production.
 */
export { startSmtpStandIn, type ReceivedMail, type SmtpStandIn, type SmtpStandInOptions } from './smtp.js';
export {
  startTwilioStandIn,
  type ReceivedSms,
  type TwilioRespondWithOptions,
  type TwilioStandIn,
  type TwilioStandInOptions,
} from './twilio.js';
export {
  startPushStandIn,
  type PushRespondWithOptions,
  type PushStandIn,
  type PushStandInOptions,
  type ReceivedPush,
  type StandInSubscription,
} from './push.js';
export { loadOrCreateVapidKeys, startLocalStandIns, type LocalStandIns, type Outbox } from './local-stand-ins.js';
/** A TCP port free on 127.0.0.1 right now: for tests and the local stack, not the product. */
export { freePort } from './free-port.js';
