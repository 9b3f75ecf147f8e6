//! The Lambda side: state built once per execution environment, and the handler that turns an
//! event into a worker call.
{%- case event_source %}
{%- when "custom" %}

use lamplight::Invocation;
use serde::Deserialize;
{%- if use_s3 %}

use crate::worker::Objects;
use crate::worker::{self, GreetError, Greeting, Request};
{%- else %}

use crate::worker::{self, GreetError, Greeting, Request};
{%- endif %}

/// The function's settings, from its environment variables.
#[derive(Debug, Deserialize)]
pub struct Config {
{%- if use_s3 %}
    /// `GREETING_BUCKET`: where the greeting is stored.
    pub greeting_bucket: String,
    /// `GREETING_KEY`: its key.
    pub greeting_key: String,
{%- else %}
    /// `GREETING`: the word to greet with.
    pub greeting: String,
{%- endif %}
}
{%- if use_s3 %}

/// What lives as long as the execution environment: settings and the S3 client.
pub struct State<O = S3Objects> {
    /// Settings.
    pub config: Config,
    /// The object store.
    pub objects: O,
}

impl State {
    /// Reads the configuration (every missing variable reported at once) and builds the client.
    pub async fn load() -> Result<Self, lamplight::BoxError> {
        let config = lamplight::config::from_env::<Config>()?;
        let objects = S3Objects(lamplight_aws::Aws::shared().await.s3());
        Ok(Self { config, objects })
    }
}

/// Greets the caller with the stored greeting.
pub async fn handle<O: Objects>(
    state: &State<O>,
    request: Request,
    inv: Invocation,
) -> Result<Greeting, GreetError> {
    tracing::info!(
        remaining_ms = inv.remaining_time().as_millis() as u64,
        "greeting {}",
        request.name
    );
    let config = &state.config;
    worker::greet_from(
        &state.objects,
        &config.greeting_bucket,
        &config.greeting_key,
        &request.name,
    )
    .await
}
{%- else %}

/// What lives as long as the execution environment.
pub struct State {
    /// Settings.
    pub config: Config,
}

impl State {
    /// Reads the configuration; every missing or invalid variable is reported at once.
    pub async fn load() -> Result<Self, lamplight::config::ConfigError> {
        Ok(Self {
            config: lamplight::config::from_env()?,
        })
    }
}

/// Greets the caller.
pub async fn handle(
    state: &State,
    request: Request,
    inv: Invocation,
) -> Result<Greeting, GreetError> {
    tracing::info!(
        remaining_ms = inv.remaining_time().as_millis() as u64,
        "greeting {}",
        request.name
    );
    worker::greet(&state.config.greeting, &request.name)
}
{%- endif %}
{%- when "http-api" or "rest-api" or "alb" or "function-url" %}

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use lamplight_http::{HttpError, Json, Path};
use serde::Deserialize;

use crate::worker::{self, NewOrder, Order, OrderError};

/// The function's settings, from its environment variables.
#[derive(Debug, Deserialize)]
pub struct Config {
    /// `MAX_QUANTITY`: the most of one item per order.
    pub max_quantity: u32,
}

/// What lives as long as the execution environment.
pub struct State {
    /// Settings.
    pub config: Config,
}

impl State {
    /// Reads the configuration; every missing or invalid variable is reported at once.
    pub async fn load() -> Result<Self, lamplight::config::ConfigError> {
        Ok(Self {
            config: lamplight::config::from_env()?,
        })
    }
}

/// The API: `GET /orders/{id}`, `POST /orders`.
pub fn router(state: &'static State) -> Router {
    Router::new()
        .route("/orders", post(place))
        .route("/orders/{id}", get(find))
        .with_state(state)
}

async fn find(Path(id): Path<u32>) -> Result<Json<Order>, HttpError> {
    Ok(Json(worker::find(id)?))
}

async fn place(
    axum::extract::State(state): axum::extract::State<&'static State>,
    Json(order): Json<NewOrder>,
) -> Result<(StatusCode, Json<Order>), HttpError> {
    let order = worker::place(order, state.config.max_quantity)?;
    Ok((StatusCode::CREATED, Json(order)))
}

impl From<OrderError> for HttpError {
    fn from(error: OrderError) -> Self {
        match error {
            OrderError::NotFound(_) => HttpError::not_found(error.to_string()),
            OrderError::UnknownItem(_) | OrderError::TooMany { .. } => {
                HttpError::new(StatusCode::CONFLICT, "order_refused", error.to_string())
            }
        }
    }
}
{%- when "sqs" or "sns" or "dynamodb" %}
{% case event_source %}
{%- when "sqs" %}
use lamplight::{BoxError, Invocation};
use lamplight_batch::aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use serde::Deserialize;
{%- when "sns" %}
use lamplight::concurrent::AggregateError;
use lamplight::{BoxError, Invocation};
use lamplight_batch::aws_lambda_events::event::sns::SnsEvent;
use serde::Deserialize;
use serde::Serialize;
{%- when "dynamodb" %}
use lamplight::{BoxError, Invocation};
use lamplight_batch::aws_lambda_events::event::dynamodb::Event;
use lamplight_batch::aws_lambda_events::event::streams::DynamoDbEventResponse;
use serde::Deserialize;
{%- endcase %}

use crate::worker::{self, OrderMessage};

/// The function's settings, from its environment variables.
#[derive(Debug, Deserialize)]
pub struct Config {
    /// `MAX_QUANTITY`: the most items one order may ship.
    pub max_quantity: u32,
}

/// What lives as long as the execution environment.
pub struct State {
    /// Settings.
    pub config: Config,
}

impl State {
    /// Reads the configuration; every missing or invalid variable is reported at once.
    pub async fn load() -> Result<Self, lamplight::config::ConfigError> {
        Ok(Self {
            config: lamplight::config::from_env()?,
        })
    }
}

/// Records processed at once.
const CONCURRENCY: usize = 10;

fn ship(state: &State, json: &str) -> Result<(), BoxError> {
    let order: OrderMessage = serde_json::from_str(json)?;
    let shipment = worker::ship(&order, state.config.max_quantity)?;
    tracing::info!(order_id = %shipment.order_id, parcels = shipment.parcels, "shipped");
    Ok(())
}
{%- case event_source %}
{%- when "sqs" %}

/// Ships every order of the batch; failed messages go back to the queue, and only they.
pub async fn handle(
    state: &State,
    event: SqsEvent,
    _inv: Invocation,
) -> Result<SqsBatchResponse, std::convert::Infallible> {
    Ok(
        lamplight_batch::sqs(event, CONCURRENCY, |message| async move {
            ship(state, message.body.as_deref().unwrap_or_default())
        })
        .await,
    )
}
{%- when "sns" %}

/// How many notifications were handled.
#[derive(Debug, Serialize)]
pub struct Handled {
    /// Orders shipped.
    pub shipped: usize,
}

/// Ships the order of every notification; one failure fails the delivery, naming each.
pub async fn handle(
    state: &State,
    event: SnsEvent,
    _inv: Invocation,
) -> Result<Handled, AggregateError> {
    let shipped = lamplight_batch::sns(event, CONCURRENCY, |record| async move {
        ship(state, &record.sns.message)
    })
    .await?;
    Ok(Handled { shipped })
}
{%- when "dynamodb" %}

/// Ships every new order in the stream; Lambda retries from the first failed record.
pub async fn handle(
    state: &State,
    event: Event,
    _inv: Invocation,
) -> Result<DynamoDbEventResponse, std::convert::Infallible> {
    Ok(
        lamplight_batch::dynamodb(event, CONCURRENCY, |record| async move {
            // The new image, in DynamoDB's typed JSON: {"orderId": {"S": "o-1"}, "quantity": {"N": "2"}}.
            let image = serde_json::to_value(&record.change.new_image)?;
            let text = |name: &str| {
                image[name]["S"]
                    .as_str()
                    .or(image[name]["N"].as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            let order = serde_json::json!({
                "orderId": text("orderId"),
                "item": text("item"),
                "quantity": text("quantity").parse::<u32>().map_err(|e| format!("quantity: {e}"))?,
            });
            ship(state, &order.to_string())
        })
        .await,
    )
}
{%- endcase %}
{%- when "s3" %}

use aws_lambda_events::event::s3::S3Event;
use lamplight::Invocation;
use lamplight::concurrent::{AggregateError, all_settled_bounded};
use serde::Deserialize;

use crate::worker::{self, Objects, Summary};

/// The function's settings, from its environment variables.
#[derive(Debug, Deserialize)]
pub struct Config {
    /// `MAX_LINES`: the longest object summarized.
    pub max_lines: usize,
}

/// What lives as long as the execution environment: settings and the S3 client.
pub struct State<O = S3Objects> {
    /// Settings.
    pub config: Config,
    /// The object store.
    pub objects: O,
}

impl State {
    /// Reads the configuration (every missing variable reported at once) and builds the client.
    pub async fn load() -> Result<Self, lamplight::BoxError> {
        let config = lamplight::config::from_env::<Config>()?;
        let objects = S3Objects(lamplight_aws::Aws::shared().await.s3());
        Ok(Self { config, objects })
    }
}

/// Keys in S3 events are URL-encoded, with `+` for spaces.
fn decode_key(key: &str) -> String {
    let bytes = key.replace('+', " ").into_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Summarizes every object of the event, 8 at a time; one error names every failure.
pub async fn handle<O: Objects>(
    state: &State<O>,
    event: S3Event,
    _inv: Invocation,
) -> Result<Vec<Summary>, AggregateError> {
    let tasks = event.records.into_iter().map(|record| {
        let bucket = record.s3.bucket.name.unwrap_or_default();
        let key = decode_key(&record.s3.object.key.unwrap_or_default());
        (format!("s3://{bucket}/{key}"), async move {
            let body = state.objects.get(&bucket, &key).await?;
            Ok::<_, lamplight::BoxError>(worker::summarize(&key, &body, state.config.max_lines)?)
        })
    });
    all_settled_bounded(tasks, 8).await.into_result()
}
{%- when "eventbridge" %}

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lamplight::Invocation;
use serde::Deserialize;

use crate::worker::{self, Report};

/// The function's settings, from its environment variables.
#[derive(Debug, Deserialize)]
pub struct Config {
    /// `JOB_NAME`: what the schedule runs.
    pub job_name: String,
}

/// What lives as long as the execution environment.
pub struct State {
    /// Settings.
    pub config: Config,
}

impl State {
    /// Reads the configuration; every missing or invalid variable is reported at once.
    pub async fn load() -> Result<Self, lamplight::config::ConfigError> {
        Ok(Self {
            config: lamplight::config::from_env()?,
        })
    }
}

/// Runs the job for the schedule that fired.
pub async fn handle(
    state: &State,
    event: EventBridgeEvent,
    _inv: Invocation,
) -> Result<Report, std::convert::Infallible> {
    let scheduled_at = event.time.map(|t| t.to_rfc3339()).unwrap_or_default();
    Ok(worker::run_job(&state.config.job_name, &scheduled_at))
}
{%- endcase %}
{%- if use_s3 or event_source == "s3" %}

/// Objects read through lamplight's traced S3 client.
pub struct S3Objects(lamplight_aws::aws_sdk_s3::Client);

impl Objects for S3Objects {
    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, lamplight::BoxError> {
        let object = self.0.get_object().bucket(bucket).key(key).send().await?;
        Ok(object.body.collect().await?.into_bytes().to_vec())
    }
}
{%- endif %}
