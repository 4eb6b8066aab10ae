//! What `#[traced_function]` expands to for the Azure Functions triggers, re-exported from
//! `__private`. Not a stable API.

/// `trigger = "http"` on Azure Functions.
pub mod azure_http {
    use std::future::Future;

    use crate::outcome::ReadOutcome;
    use crate::trigger::Spec;
    use crate::trigger::azure_http::{AzureHttp, AzureHttpInput};

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

    use crate::outcome::ReadOutcome;
    use crate::trigger::Spec;
    use crate::trigger::azure_queue::{AzureQueue, QueueInput};

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

    use crate::outcome::ReadOutcome;
    use crate::trigger::Spec;
    use crate::trigger::azure_service_bus::{AzureServiceBus, ServiceBusInput};

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

    use crate::outcome::ReadOutcome;
    use crate::trigger::Spec;
    use crate::trigger::azure_event_hubs::{AzureEventHubs, EventHubsInput};

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

    use crate::outcome::ReadOutcome;
    use crate::trigger::Spec;
    use crate::trigger::azure_timer::{AzureTimer, TimerInput};

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
