//! The pace of a run in the worker: how the next slice is queued (a message to
//! itself, which browsers deliver at once, where a zero timeout is clamped to about
//! 4 ms) and how often a running machine's view is sent (rarer as a view costs more).

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{MessageChannel, MessageEvent, MessagePort};

/// Minimum milliseconds between two views sent while running at full speed.
pub const VIEW_MS: f64 = 33.0;
/// Views while running may take at most one part in this many of the worker's time:
/// a view that took `v` ms is followed by the next no sooner than `v * VIEW_SHARE` ms.
pub const VIEW_SHARE: f64 = 40.0;

/// Milliseconds until the next view may be sent while running at full speed, after a
/// view that took `cost` ms to collect and post.
pub fn view_interval(cost: f64) -> f64 {
    if cost.is_finite() {
        (cost * VIEW_SHARE).clamp(VIEW_MS, 1000.0)
    } else {
        VIEW_MS
    }
}

/// Queues a task for the worker itself through a `MessageChannel`: the task runs
/// after every message the page sent before it (so Pause is heard between slices),
/// without a timer's clamping.
pub struct Yield {
    send: MessagePort,
    _receive: MessagePort,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

impl std::fmt::Debug for Yield {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Yield(MessageChannel)")
    }
}

impl Yield {
    /// A channel whose messages (a run number) call `wake` with that number; `None`
    /// where there is no `MessageChannel` (the caller falls back to a timeout).
    pub fn new(mut wake: impl FnMut(u64) + 'static) -> Option<Yield> {
        let channel = MessageChannel::new().ok()?;
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if let Some(id) = e.data().as_f64() {
                wake(id as u64);
            }
        });
        let receive = channel.port1();
        receive.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        Some(Yield {
            send: channel.port2(),
            _receive: receive,
            _on_message: on_message,
        })
    }

    /// Queues the wake-up for run `id`; false if the channel refused the message.
    pub fn post(&self, id: u64) -> bool {
        self.send
            .post_message(&JsValue::from_f64(id as f64))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_costly_view_is_sent_less_often_and_a_cheap_one_at_the_display_rate() {
        assert_eq!(view_interval(0.1), VIEW_MS);
        assert_eq!(view_interval(2.0), 2.0 * VIEW_SHARE);
        assert!(view_interval(2.0) > view_interval(1.0));
        assert_eq!(view_interval(1e9), 1000.0);
        assert_eq!(view_interval(f64::NAN), VIEW_MS);
    }
}
