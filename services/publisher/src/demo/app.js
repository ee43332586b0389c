// The push demo: registers the service worker at once, and on request subscribes this browser
// with the publisher's VAPID key and registers the subscription for a user.
const log = (line) => (document.getElementById('log').textContent = line);

function base64UrlToBytes(text) {
  const padded = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

const registration = navigator.serviceWorker
  ? navigator.serviceWorker.register('/demo/sw.js', { scope: '/demo/' }).then(
      (r) => {
        log('Service worker registered. Choose a user and subscribe.');
        return r;
      },
      (err) => {
        log(`The service worker could not be registered: ${err.message}`);
        return undefined;
      },
    )
  : Promise.resolve(log('This browser has no service workers, so no Web Push.'));

document.getElementById('subscribe').addEventListener('click', async () => {
  const userId = document.getElementById('user').value.trim();
  // A user token, made by the app's server for this user: it can register this user's
  // subscriptions and nothing else. An API key never belongs in a browser.
  const token = document.getElementById('token').value.trim();
  const headers = { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) };
  try {
    const r = await registration;
    if (!r || !('PushManager' in window)) throw new Error('this browser cannot receive Web Push');
    if ((await Notification.requestPermission()) !== 'granted')
      throw new Error('notifications are not allowed for this page');
    const vapid = await fetch('/v1/push/vapid-public-key', { headers });
    if (!vapid.ok) throw new Error(`the publisher has no VAPID key (${vapid.status})`);
    const { publicKey } = await vapid.json();
    const subscription = await r.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: base64UrlToBytes(publicKey),
    });
    const res = await fetch(`/v1/users/${encodeURIComponent(userId)}/push-subscriptions`, {
      method: 'POST',
      headers,
      body: JSON.stringify(subscription.toJSON()),
    });
    if (!res.ok) throw new Error((await res.json()).error?.message ?? `HTTP ${res.status}`);
    log(`Subscribed for user ${userId}. Publish a notification for ${userId} and it shows up here.`);
  } catch (err) {
    log(`Could not subscribe: ${err.message}`);
  }
});
