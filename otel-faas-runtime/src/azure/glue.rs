//! What `#[traced_function]` expands to for the Azure Functions triggers, re-exported from
//! `__private`. Not a stable API.

/// `trigger = "http"` on Azure Functions.
pub mod azure_http {
    use std::future::Future;

    use crate::azure::trigger::http::{AzureHttp, AzureHttpInput};
    use crate::outcome::ReadOutcome;
    use crate::trigger::Spec;

    /// Traces one invocation.
    pub async fn instrument<I, F, Fut>(
        spec: &'static Spec,
        input: I,
        body: F,
        read: ReadOutcome<Fut::Output>,
    ) -> Fut::Output
    where
        I: AzureHttpInput,
        F: FnOnce(I) -> Fut,
        Fut: Future,
    {
        crate::invocation::instrument::<AzureHttp<I>, F, Fut>(spec, input, body, read).await
    }
}

/// `trigger = "queue"`.
pub mod azure_queue {
    use std::future::Future;

    use crate::azure::trigger::queue::{AzureQueue, QueueInput};
    use crate::outcome::ReadOutcome;
    use crate::trigger::Spec;

    /// Traces one invocation.
    pub async fn instrument<I, F, Fut>(
        spec: &'static Spec,
        input: I,
        body: F,
        read: ReadOutcome<Fut::Output>,
    ) -> Fut::Output
    where
        I: QueueInput,
        F: FnOnce(I) -> Fut,
        Fut: Future,
    {
        crate::invocation::instrument::<AzureQueue<I>, F, Fut>(spec, input, body, read).await
    }
}

/// `trigger = "service_bus"`.
pub mod azure_service_bus {
    use std::future::Future;

    use crate::azure::trigger::service_bus::{AzureServiceBus, ServiceBusInput};
    use crate::outcome::ReadOutcome;
    use crate::trigger::Spec;

    /// Traces one invocation.
    pub async fn instrument<I, F, Fut>(
        spec: &'static Spec,
        input: I,
        body: F,
        read: ReadOutcome<Fut::Output>,
    ) -> Fut::Output
    where
        I: ServiceBusInput,
        F: FnOnce(I) -> Fut,
        Fut: Future,
    {
        crate::invocation::instrument::<AzureServiceBus<I>, F, Fut>(spec, input, body, read).await
    }
}

/// `trigger = "event_hubs"`.
pub mod azure_event_hubs {
    use std::future::Future;

    use crate::azure::trigger::event_hubs::{AzureEventHubs, EventHubsInput};
    use crate::outcome::ReadOutcome;
    use crate::trigger::Spec;

    /// Traces one invocation.
    pub async fn instrument<I, F, Fut>(
        spec: &'static Spec,
        input: I,
        body: F,
        read: ReadOutcome<Fut::Output>,
    ) -> Fut::Output
    where
        I: EventHubsInput,
        F: FnOnce(I) -> Fut,
        Fut: Future,
    {
        crate::invocation::instrument::<AzureEventHubs<I>, F, Fut>(spec, input, body, read).await
    }
}

/// `trigger = "timer"`.
pub mod azure_timer {
    use std::future::Future;

    use crate::azure::trigger::timer::{AzureTimer, TimerInput};
    use crate::outcome::ReadOutcome;
    use crate::trigger::Spec;

    /// Traces one invocation.
    pub async fn instrument<I, F, Fut>(
        spec: &'static Spec,
        input: I,
        body: F,
        read: ReadOutcome<Fut::Output>,
    ) -> Fut::Output
    where
        I: TimerInput,
        F: FnOnce(I) -> Fut,
        Fut: Future,
    {
        crate::invocation::instrument::<AzureTimer<I>, F, Fut>(spec, input, body, read).await
    }
}
