//! `callbook tenant create` and `callbook user add`: accounts from the command line, before (or while) the server
//! runs. Both open the database of `CALLBOOK_DATABASE_URL` (applying migrations, so they work on a fresh data
//! directory) and print a generated one-time password once on stdout; nothing is logged.
//!
//! ```text
//! $ callbook tenant create --name "Rivera Plumbing" --zone America/New_York --owner maria
//! tenant   0193…  Rivera Plumbing (America/New_York)
//! owner    maria
//! password Xk7…  (shown once: log in at POST /api/v1/auth/login and change it)
//! $ callbook user add --login sam --role staff            # the bootstrap tenant
//! ```

use std::process::ExitCode;

use anyhow::Context;
use callbook_jobs::{JobStore, NewTenant, Role, TenantId, TimeZone};

use crate::api::auth_secrets::{PasswordHashing, generate_password};
use crate::config::Config;

/// `callbook tenant …`.
#[derive(Debug, clap::Args)]
pub struct TenantArgs {
    #[command(subcommand)]
    command: TenantCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TenantCommand {
    /// Create a tenant with an owner; prints the owner's one-time password once.
    Create {
        /// The business name.
        #[arg(long)]
        name: String,
        /// Its IANA time zone (default UTC).
        #[arg(long, default_value = "UTC")]
        zone: String,
        /// The owner's login.
        #[arg(long)]
        owner: String,
    },
}

/// `callbook user …`.
#[derive(Debug, clap::Args)]
pub struct UserArgs {
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Debug, clap::Subcommand)]
enum UserCommand {
    /// Add a user; prints a one-time password once.
    Add {
        /// The login (unique in the tenant).
        #[arg(long)]
        login: String,
        /// owner, admin or staff.
        #[arg(long, default_value = "staff")]
        role: String,
        /// The tenant id (default: the bootstrap tenant, created if the server never ran).
        #[arg(long)]
        tenant: Option<String>,
    },
}

async fn hashed_password() -> anyhow::Result<(String, String)> {
    let password = generate_password();
    let for_hash = zeroize::Zeroizing::new(password.clone());
    let phc = PasswordHashing::default()
        .hash_blocking(for_hash)
        .await
        .context("hashing the password")?;
    Ok((password, phc))
}

fn print_created(tenant: &callbook_jobs::Tenant, login: &str, role: Role, password: &str) {
    println!(
        "tenant   {}  {} ({})",
        tenant.id,
        tenant.name,
        tenant.timezone.name()
    );
    println!("user     {login} ({role})");
    println!("password {password}  (shown once: log in at POST /api/v1/auth/login and change it)");
}

/// The dashboard sign-in on a first start: when the bootstrap tenant has no users yet, makes the owner `owner`
/// with a generated password written to `DATA_DIR/owner.password` (mode 0600; never printed or logged) and
/// returns the start-up line saying where it is. Later starts (any user exists) change nothing and return the
/// plain dashboard line. Deleting the file after the first sign-in is fine; the password is only its hash.
pub async fn first_owner(
    config: &Config,
    store: &dyn JobStore,
    tenant: &callbook_jobs::Tenant,
) -> anyhow::Result<String> {
    let dashboard = format!("{}/app", config.public_url);
    if !store.list_users(tenant.id).await?.is_empty() {
        return Ok(format!("dashboard      {dashboard}"));
    }
    let path = config.data_dir.join("owner.password");
    let (password, phc) = hashed_password().await?;
    crate::app::write_private(&path, &format!("{password}\n")).with_context(|| {
        format!(
            "{} exists but no user does: delete it to make a new owner",
            path.display()
        )
    })?;
    store
        .create_user(tenant.id, FIRST_OWNER_LOGIN, Role::Owner, Some(phc))
        .await
        .context("creating the first owner")?;
    Ok(format!(
        "dashboard      {dashboard}: sign in as `{FIRST_OWNER_LOGIN}` with the password in {} (change it in Settings)",
        path.display()
    ))
}

/// The login of the owner [`first_owner`] makes.
pub const FIRST_OWNER_LOGIN: &str = "owner";

/// `callbook tenant create --name N --zone Z --owner LOGIN`.
pub async fn tenant(args: TenantArgs) -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    let store = crate::app::open_store(&config).await?;
    match args.command {
        TenantCommand::Create { name, zone, owner } => {
            let zone = TimeZone::parse(&zone)
                .map_err(|_| anyhow::anyhow!("--zone: {zone:?} is not an IANA time zone"))?;
            let mut new = NewTenant::new(name.trim(), zone);
            new.settings = crate::app::default_settings();
            let tenant = store.create_tenant(new).await.context("creating the tenant")?;
            let (password, phc) = hashed_password().await?;
            store
                .create_user(tenant.id, owner.trim(), Role::Owner, Some(phc))
                .await
                .context("creating the owner")?;
            print_created(&tenant, owner.trim(), Role::Owner, &password);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `callbook user add --login L --role R [--tenant ID]`.
pub async fn user(args: UserArgs) -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    let store = crate::app::open_store(&config).await?;
    match args.command {
        UserCommand::Add { login, role, tenant } => {
            let role: Role = role
                .parse()
                .map_err(|_| anyhow::anyhow!("--role: {role:?} is not owner, admin or staff"))?;
            let tenant = match tenant {
                Some(id) => {
                    let id: TenantId = id
                        .parse()
                        .map_err(|_| anyhow::anyhow!("--tenant: {id:?} is not a tenant id"))?;
                    store.get_tenant(id).await.context("--tenant: no such tenant")?
                }
                None => bootstrap(&config, store.as_ref()).await?,
            };
            let (password, phc) = hashed_password().await?;
            store
                .create_user(tenant.id, login.trim(), role, Some(phc))
                .await
                .context("creating the user")?;
            print_created(&tenant, login.trim(), role, &password);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The bootstrap tenant the server would use (created now if the server never ran).
async fn bootstrap(config: &Config, store: &dyn JobStore) -> anyhow::Result<callbook_jobs::Tenant> {
    let account_sid = config
        .twilio
        .account_sid
        .clone()
        .unwrap_or_else(|| callbook_telephony::fake::FAKE_ACCOUNT_SID.to_owned());
    let (tenant, _) =
        crate::app::bootstrap_tenant(store, &config.tenant_name, config.timezone, &account_sid).await?;
    Ok(tenant)
}
