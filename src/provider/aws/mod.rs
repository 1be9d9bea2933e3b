//! The `aws` provider: EC2 + SSM inventory, S3, and the SSM transport,
//! behind the same seam as the sandbox. Credentials come from aws-config's
//! standard chain exactly like the AWS CLI (profiles incl. SSO, env vars,
//! IMDS); `AWS_PROFILE`, `AWS_REGION` and `AWS_ENDPOINT_URL` (and the
//! per-service variants) are honoured; with an endpoint override S3 uses
//! path-style addressing.

pub mod ec2;
mod fleet;
mod machines;
pub mod s3;
mod s3_locks;
pub mod ssm;

use crate::config::ContextConfig;
use crate::domain::Instance;
use crate::provider::{CloudInventory, ProviderResult};
use async_trait::async_trait;
use aws_config::BehaviorVersion;
use ec2::RegionClients;
use ssm::{HostRegions, SsmTiming, SsmTransport};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

message_error!(
    /// Why the AWS context cannot be connected (credentials, region, endpoint).
    ConnectError
);

pub struct AwsCloud {
    label: String,
    /// The context's profile, handed to `aws ssm start-session`.
    profile: Option<String>,
    regions: Vec<RegionClients>,
    host_regions: HostRegions,
    /// The context's `locks_bucket`, as a lock store.
    locks: Option<Arc<dyn crate::provider::run_locks::LockStore>>,
}

#[async_trait]
impl CloudInventory for AwsCloud {
    fn label(&self) -> String {
        self.label.clone()
    }

    fn run_locks(&self) -> Option<Arc<dyn crate::provider::run_locks::LockStore>> {
        self.locks.clone()
    }

    async fn instances(&self) -> ProviderResult<Vec<Instance>> {
        self.instance_pages(&mut |_| {}).await
    }

    async fn instance_pages(
        &self,
        on_page: &mut (dyn FnMut(Vec<Instance>) + Send),
    ) -> ProviderResult<Vec<Instance>> {
        let (tx, mut pages) = tokio::sync::mpsc::unbounded_channel();
        let listing = ec2::instances(&self.regions, Some(tx));
        tokio::pin!(listing);
        let list = loop {
            tokio::select! {
                Some(page) = pages.recv() => on_page(page),
                list = &mut listing => {
                    while let Ok(page) = pages.try_recv() {
                        on_page(page);
                    }
                    break list?;
                }
            }
        };
        if let Ok(mut m) = self.host_regions.write() {
            for i in &list {
                m.insert(i.id.clone(), i.region.clone());
            }
        }
        Ok(list)
    }

    async fn posture(&self) -> ProviderResult<Vec<crate::domain::Finding>> {
        let mut set = tokio::task::JoinSet::new();
        for (i, c) in self.regions.iter().enumerate() {
            let c = c.clone();
            set.spawn(async move { (i, ec2::posture_in(&c).await) });
        }
        let mut results = Vec::new();
        while let Some(r) = set.join_next().await {
            results.push(r.map_err(|e| crate::provider::ProviderError::new("reading posture", e))?);
        }
        results.sort_by_key(|(i, _)| *i);
        let mut all = Vec::new();
        for (_, r) in results {
            all.extend(r?);
        }
        Ok(all)
    }

    async fn set_running(&self, id: &str, running: bool) -> ProviderResult<String> {
        let region = self
            .host_regions
            .read()
            .ok()
            .and_then(|m| m.get(id).cloned());
        let rc = region
            .as_deref()
            .and_then(|r| self.region(r))
            .ok_or_else(|| {
                crate::provider::ProviderError::new(
                    format!("instance {id}"),
                    "not in this context's regions (list instances first)",
                )
            })?;
        ec2::set_running(rc, id, running).await
    }

    async fn images(
        &self,
        region: &str,
        instance: &str,
    ) -> ProviderResult<Vec<crate::provider::machines::Image>> {
        machines::images(self.in_region(region)?, instance).await
    }
    async fn image(
        &self,
        region: &str,
        id: &str,
    ) -> ProviderResult<crate::provider::machines::Image> {
        machines::image(self.in_region(region)?, id).await
    }
    async fn create_image(
        &self,
        region: &str,
        instance: &str,
        name: &str,
    ) -> ProviderResult<String> {
        machines::create_image(self.in_region(region)?, instance, name).await
    }
    async fn delete_image(&self, region: &str, id: &str) -> ProviderResult<Vec<String>> {
        machines::delete_image(self.in_region(region)?, id).await
    }
    async fn launch_config(
        &self,
        region: &str,
        instance: &str,
    ) -> ProviderResult<crate::provider::machines::LaunchLike> {
        machines::launch_config(self.in_region(region)?, instance).await
    }
    async fn launch(
        &self,
        region: &str,
        image: &str,
        like: &crate::provider::machines::LaunchLike,
        name: &str,
    ) -> ProviderResult<String> {
        machines::launch(self.in_region(region)?, image, like, name).await
    }
    async fn addresses(
        &self,
        region: &str,
    ) -> ProviderResult<Vec<crate::provider::machines::Address>> {
        machines::addresses(self.in_region(region)?).await
    }
    async fn terminate(&self, region: &str, instance: &str) -> ProviderResult<String> {
        machines::terminate(self.in_region(region)?, instance).await
    }
    async fn associate_address(
        &self,
        region: &str,
        allocation: &str,
        instance: &str,
    ) -> ProviderResult<()> {
        machines::associate(self.in_region(region)?, allocation, instance).await
    }

    fn forward(
        &self,
        instance: &Instance,
        to: &crate::provider::session::ForwardTo,
    ) -> ProviderResult<crate::provider::session::SessionSpec> {
        crate::provider::session::aws_forward(
            &instance.id,
            &instance.region,
            self.profile.as_deref(),
            to,
        )
        .map_err(|e| {
            crate::provider::ProviderError::new(format!("a forward through {}", instance.id), e)
        })
    }

    fn session(
        &self,
        instance: &Instance,
        container: Option<&str>,
    ) -> ProviderResult<crate::provider::session::SessionSpec> {
        crate::provider::session::aws_shell(
            &instance.id,
            &instance.region,
            self.profile.as_deref(),
            container,
        )
        .map_err(|e| crate::provider::ProviderError::new(format!("a shell on {}", instance.id), e))
    }
}

impl AwsCloud {
    /// The clients of `name`, or the error that says it is not this context's.
    fn in_region(&self, name: &str) -> ProviderResult<&RegionClients> {
        self.region(name).ok_or_else(|| {
            crate::provider::ProviderError::new(
                format!("region {name}"),
                "not among this context's regions",
            )
        })
    }
    pub fn region(&self, name: &str) -> Option<&RegionClients> {
        self.regions.iter().find(|r| r.region == name)
    }
}

pub struct AwsEstate {
    pub cloud: Arc<AwsCloud>,
    pub store: Arc<s3::S3Store>,
    pub transport: Arc<SsmTransport>,
    pub regions: Vec<String>,
    /// "account 123456789012 · arn:aws:iam::…"
    pub identity: String,
}

/// Whether an endpoint override is in force (LocalStack, moto, MinIO).
pub fn endpoint_overridden() -> bool {
    ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
}

/// An SDK error as a provider error: its words ([`say`]) and its kind,
/// from its AWS error code or, without one, from a credentials error in
/// its chain of causes. The one place SDK errors become provider errors.
pub(crate) fn error<E>(context: impl Into<String>, e: &E) -> crate::provider::ProviderError
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use crate::provider::ErrorKind;
    let kind = match e.code() {
        Some(code) => ErrorKind::of_code(code),
        None => {
            let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
            let mut kind = ErrorKind::Other;
            while let Some(x) = cur {
                if x.downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
                    .is_some()
                {
                    kind = ErrorKind::Auth;
                    break;
                }
                cur = x.source();
            }
            kind
        }
    };
    crate::provider::ProviderError::new(context, say(e)).with_kind(kind)
}

/// The first line of an SDK error, without its debug dump.
/// An SDK error in words: the service's code and message when it
/// answered, else what stopped the request (see [`explain`]).
pub(crate) fn say<E>(e: &E) -> String
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    match (e.code(), e.message()) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (Some(code), None) => code.to_string(),
        _ => explain(e),
    }
}

/// What stopped a request, from the error's chain of causes: a refused
/// connection, a timeout, a name that does not resolve, an untrusted
/// certificate — said as such, with the innermost cause; else the chain.
pub(crate) fn explain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut chain: Vec<String> = Vec::new();
    let mut cur = Some(e);
    while let Some(x) = cur {
        let s = x.to_string();
        if !s.is_empty() && !chain.iter().any(|c| c.contains(&s)) {
            chain.push(s);
        }
        cur = x.source();
    }
    let all = chain.join(": ").to_lowercase();
    let what = if all.contains("connection refused") {
        Some("cannot connect: connection refused (is the endpoint up?)")
    } else if all.contains("timed out") || all.contains("timeout") {
        Some("no answer: the request timed out")
    } else if all.contains("dns error")
        || all.contains("failed to lookup")
        || all.contains("name or service not known")
    {
        Some("cannot resolve the endpoint's host name")
    } else if all.contains("certificate") {
        Some("the endpoint's TLS certificate is not trusted")
    } else {
        None
    };
    match (what, chain.last()) {
        (Some(w), Some(cause)) => format!("{w} [{}]", one_line(cause)),
        _ => chain.join(": "),
    }
}

fn one_line(s: &str) -> String {
    let first = s.lines().next().unwrap_or("").trim();
    let cut = first.find(" (").map(|i| &first[..i]).unwrap_or(first);
    cut.chars().take(240).collect()
}

const SETUP_HINT: &str = "set AWS_PROFILE (or `profile` in the context), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; for SSO run `aws sso login --profile NAME`";

/// Open a context: load the credential chain, check it with
/// sts:GetCallerIdentity, and make the per-region clients.
pub async fn connect(ctx: &ContextConfig) -> Result<AwsEstate, ConnectError> {
    connect_with(ctx, Overrides::default()).await
}

/// What a caller (a test, a benchmark) may set instead of the environment.
#[derive(Default, Clone)]
pub struct Overrides {
    pub endpoint_url: Option<String>,
    pub credentials: Option<aws_credential_types::Credentials>,
    pub page_size: Option<i32>,
}

/// The HTTPS client every AWS client of opsdeck uses: the SDK's own
/// (hyper, connection pooling, timeouts), with rustls on ring — the SDK's
/// default TLS backend (aws-lc) compiles a C library for a minute at the
/// start of every fresh build.
pub fn http_client() -> aws_sdk_sts::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

pub async fn connect_with(ctx: &ContextConfig, ov: Overrides) -> Result<AwsEstate, ConnectError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http_client());
    if let Some(url) = &ov.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(c) = ov.credentials.clone() {
        loader = loader.credentials_provider(c);
    }
    if let Some(p) = &ctx.profile {
        loader = loader.profile_name(p);
    }
    // The context's first region, else the loader's own default chain
    // (environment, the profile's region, instance metadata), which uses
    // the HTTP client above and the profile named above.
    if let Some(first) = ctx.regions.first() {
        loader = loader.region(aws_config::Region::new(first.clone()));
    }
    let base = loader.load().await;
    let home = base.region().map(|r| r.to_string()).ok_or_else(|| {
        format!(
            "context {:?} has no AWS region: list `regions` in the context or set AWS_REGION",
            ctx.name
        )
    })?;
    let regions: Vec<String> = if ctx.regions.is_empty() {
        vec![home.clone()]
    } else {
        ctx.regions.clone()
    };

    use aws_credential_types::provider::{ProvideCredentials, error::CredentialsError};
    if let Some(p) = base.credentials_provider() {
        match p.provide_credentials().await {
            Ok(_) => {}
            Err(CredentialsError::CredentialsNotLoaded(_)) => {
                return Err(format!(
                    "context {:?}: no AWS credentials found (looked in the environment, profiles incl. SSO, web identity, container and instance metadata); {SETUP_HINT}",
                    ctx.name
                ).into());
            }
            Err(e) => {
                return Err(format!(
                    "context {:?}: AWS credentials are not usable ({}); {SETUP_HINT}",
                    ctx.name,
                    one_line(&aws_sdk_sts::error::DisplayErrorContext(&e).to_string())
                )
                .into());
            }
        }
    }
    let sts = aws_sdk_sts::Client::new(&base);
    let who = tokio::time::timeout(Duration::from_secs(15), sts.get_caller_identity().send())
        .await
        .map_err(|_| {
            format!(
                "context {:?}: no answer from STS within 15 s (network or endpoint?)",
                ctx.name
            )
        })?
        .map_err(|e| {
            let why = one_line(&aws_sdk_sts::error::DisplayErrorContext(&e).to_string());
            match e {
                aws_sdk_sts::error::SdkError::DispatchFailure(_) | aws_sdk_sts::error::SdkError::TimeoutError(_) => format!(
                    "context {:?}: cannot reach AWS STS ({why}); check the network, a proxy, or AWS_ENDPOINT_URL",
                    ctx.name
                ),
                _ => format!("context {:?}: AWS credentials are not usable ({why}); {SETUP_HINT}", ctx.name),
            }
        })?;
    let identity = format!(
        "account {} · {}",
        who.account().unwrap_or("?"),
        who.arn().unwrap_or("?")
    );

    let host_regions: HostRegions = Default::default();
    let mut ssm_clients = HashMap::new();
    let mut region_clients = Vec::new();
    for r in &regions {
        let region = aws_config::Region::new(r.clone());
        let ec2 = aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::config::Builder::from(&base)
                .region(region.clone())
                .build(),
        );
        let ssm = aws_sdk_ssm::Client::from_conf(
            aws_sdk_ssm::config::Builder::from(&base)
                .region(region)
                .build(),
        );
        ssm_clients.insert(r.clone(), ssm.clone());
        region_clients.push(RegionClients {
            region: r.clone(),
            page_size: ov.page_size.unwrap_or(1000),
            ec2,
            ssm,
        });
    }
    let label = match &ctx.profile {
        Some(p) => format!("aws:{p}"),
        None => "aws".to_string(),
    };
    let store = Arc::new(s3::S3Store::new(
        base.clone(),
        home.clone(),
        ov.endpoint_url.is_some() || endpoint_overridden(),
    ));
    Ok(AwsEstate {
        cloud: Arc::new(AwsCloud {
            label,
            profile: ctx.profile.clone(),
            regions: region_clients,
            host_regions: host_regions.clone(),
            locks: ctx.locks_bucket.clone().map(|b| {
                Arc::new(s3_locks::S3Locks::new(store.clone(), b))
                    as Arc<dyn crate::provider::run_locks::LockStore>
            }),
        }),
        store,
        transport: Arc::new(SsmTransport::new(
            ssm_clients,
            home,
            host_regions,
            SsmTiming::default(),
        )),
        regions,
        identity,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// A dead endpoint is said as such, not as "unhandled error" or
    /// "dispatch failure: io error".
    #[tokio::test]
    async fn a_refused_connection_is_said_in_words() {
        // A port nothing listens on: bind, learn it, close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let conf = aws_sdk_ec2::Config::builder()
            .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
            .endpoint_url(format!("http://127.0.0.1:{port}"))
            .region(aws_sdk_ec2::config::Region::new("eu-north-1"))
            .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
            .http_client(super::http_client())
            .build();
        let e = aws_sdk_ec2::Client::from_conf(conf)
            .describe_instances()
            .send()
            .await
            .unwrap_err();
        let said = say(&e);
        assert!(
            said.starts_with("cannot connect: connection refused"),
            "{said}"
        );
        // What the old path showed once the cause was dropped.
        let lost = e.into_service_error().to_string();
        assert!(!lost.to_lowercase().contains("refused"), "{lost}");
    }
}
