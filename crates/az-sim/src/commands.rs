//! The command table: every `az` command the simulator answers, how its
//! options are spelled, and which handler runs it; and what az says for a
//! command it does not know.

use super::account as acct;
use super::avd::{self, APP_GROUP, HOST_POOL, WORKSPACE};
use super::call::{Call, Outcome};
use super::error::AzError;
use super::gallery::{self, GALLERY, IMAGE_DEFINITION, IMAGE_VERSION};
use super::groups;
use super::identity as id;
use super::managed_run_command as managed;
use super::network::{NIC, NSG, NSG_RULE, PUBLIC_IP, SUBNET, VNET};
use super::resources;
use super::rest;
use super::run_command;
use super::similar;
use super::storage::{self, ACCOUNT, SHARE};
use super::types::TypeSpec;
use super::vm::{self, DISK};
use super::wait;
use super::{vm_create, vm_extension, vm_power};

pub enum Handler {
    Run(fn(&Call) -> Outcome),
    Create(&'static TypeSpec),
    Show(&'static TypeSpec),
    Update(&'static TypeSpec),
    Delete(&'static TypeSpec),
    List(&'static TypeSpec),
}

pub struct Command {
    pub path: &'static str,
    pub handler: Handler,
    /// Command-specific spellings: `("-r", "gallery-name")`.
    pub aliases: &'static [(&'static str, &'static str)],
}

impl Command {
    const fn new(path: &'static str, handler: Handler) -> Self {
        Command {
            path,
            handler,
            aliases: &[],
        }
    }

    const fn aliased(mut self, aliases: &'static [(&'static str, &'static str)]) -> Self {
        self.aliases = aliases;
        self
    }

    pub fn run(&self, call: &Call) -> Outcome {
        match &self.handler {
            Handler::Run(f) => f(call),
            Handler::Create(s) => resources::create(call, s),
            Handler::Show(s) => resources::show(call, s),
            Handler::Update(s) => resources::update(call, s),
            Handler::Delete(s) => resources::delete(call, s),
            Handler::List(s) => resources::list(call, s),
        }
    }

    /// The ARM type a not-found fault names.
    pub fn arm_type(&self) -> &'static str {
        match &self.handler {
            Handler::Create(s)
            | Handler::Show(s)
            | Handler::Update(s)
            | Handler::Delete(s)
            | Handler::List(s) => s.arm_type,
            Handler::Run(_) if self.path.starts_with("vm ") => "Microsoft.Compute/virtualMachines",
            Handler::Run(_) => "Microsoft.Resources/resources",
        }
    }
}

use Handler::{Create, Delete, List, Run, Show, Update};

const RUN_COMMAND_NAME: &[(&str, &str)] = &[("--run-command-name", "name")];
const SHOW_DETAILS: &[(&str, &str)] = &[("-d", "show-details")];
const ACCOUNT_NAME: &[(&str, &str)] = &[("--account-name", "name")];
const SHARE_ALIASES: &[(&str, &str)] = &[
    ("-q", "quota"),
    ("--storage-account-name", "storage-account"),
];

pub static COMMANDS: &[Command] = &[
    Command::new("login", Run(acct::login)).aliased(acct::LOGIN_ALIASES),
    Command::new("logout", Run(acct::logout)),
    Command::new("account show", Run(acct::account_show)),
    Command::new("account list", Run(acct::account_list)),
    Command::new("account get-access-token", Run(acct::get_access_token)),
    Command::new("account set", Run(acct::account_set)).aliased(&[
        ("-s", "subscription"),
        ("--name", "subscription"),
        ("-n", "subscription"),
    ]),
    Command::new("config set", Run(acct::config_set)),
    Command::new("extension add", Run(acct::extension_add)),
    Command::new("extension show", Run(acct::extension_show)),
    Command::new("extension list", Run(acct::extension_list)),
    Command::new("version", Run(acct::version)),
    Command::new("rest", Run(rest::rest)),
    Command::new("provider register", Run(acct::provider_register)).aliased(acct::PROVIDER_ALIASES),
    Command::new("provider show", Run(acct::provider_show)).aliased(acct::PROVIDER_ALIASES),
    Command::new("group create", Run(groups::create)).aliased(groups::ALIASES),
    Command::new("group show", Run(groups::show)).aliased(groups::ALIASES),
    Command::new("group delete", Run(groups::delete)).aliased(groups::ALIASES),
    Command::new("group exists", Run(groups::exists)).aliased(groups::ALIASES),
    Command::new("group list", Run(groups::list)),
    Command::new("group update", Run(groups::update)).aliased(groups::ALIASES),
    Command::new("network vnet create", Create(&VNET)),
    Command::new("network vnet show", Show(&VNET)),
    Command::new("network vnet update", Update(&VNET)),
    Command::new("network vnet delete", Delete(&VNET)),
    Command::new("network vnet list", List(&VNET)),
    Command::new("network vnet subnet create", Create(&SUBNET)),
    Command::new("network vnet subnet show", Show(&SUBNET)),
    Command::new("network vnet subnet update", Update(&SUBNET)),
    Command::new("network vnet subnet delete", Delete(&SUBNET)),
    Command::new("network vnet subnet list", List(&SUBNET)),
    Command::new("network nsg create", Create(&NSG)),
    Command::new("network nsg show", Show(&NSG)),
    Command::new("network nsg update", Update(&NSG)),
    Command::new("network nsg delete", Delete(&NSG)),
    Command::new("network nsg list", List(&NSG)),
    Command::new("network nsg rule create", Create(&NSG_RULE)),
    Command::new("network nsg rule show", Show(&NSG_RULE)),
    Command::new("network nsg rule update", Update(&NSG_RULE)),
    Command::new("network nsg rule delete", Delete(&NSG_RULE)),
    Command::new("network nsg rule list", List(&NSG_RULE)),
    Command::new("network nic create", Create(&NIC)),
    Command::new("network nic show", Show(&NIC)),
    Command::new("network nic delete", Delete(&NIC)),
    Command::new("network nic list", List(&NIC)),
    Command::new("network public-ip create", Create(&PUBLIC_IP)),
    Command::new("network public-ip show", Show(&PUBLIC_IP)),
    Command::new("network public-ip delete", Delete(&PUBLIC_IP)),
    Command::new("network public-ip list", List(&PUBLIC_IP)),
    Command::new("storage account create", Create(&ACCOUNT)).aliased(ACCOUNT_NAME),
    Command::new("storage account show", Show(&ACCOUNT)).aliased(ACCOUNT_NAME),
    Command::new("storage account update", Update(&ACCOUNT)).aliased(ACCOUNT_NAME),
    Command::new("storage account delete", Delete(&ACCOUNT)).aliased(ACCOUNT_NAME),
    Command::new("storage account list", List(&ACCOUNT)),
    Command::new("storage account keys list", Run(storage::keys_list)).aliased(ACCOUNT_NAME),
    Command::new("storage share-rm create", Create(&SHARE)).aliased(SHARE_ALIASES),
    Command::new("storage share-rm show", Show(&SHARE)).aliased(SHARE_ALIASES),
    Command::new("storage share-rm update", Update(&SHARE)).aliased(SHARE_ALIASES),
    Command::new("storage share-rm delete", Delete(&SHARE)).aliased(SHARE_ALIASES),
    Command::new("storage share-rm list", List(&SHARE)).aliased(SHARE_ALIASES),
    Command::new("ad group create", Run(id::group_create)),
    Command::new("ad group show", Run(id::group_show)).aliased(id::GROUP_ALIASES),
    Command::new("ad group list", Run(id::group_list)),
    Command::new("ad group delete", Run(id::group_delete)).aliased(id::GROUP_ALIASES),
    Command::new("ad group member add", Run(id::member_add)).aliased(id::GROUP_ALIASES),
    Command::new("ad group member check", Run(id::member_check)).aliased(id::GROUP_ALIASES),
    Command::new("ad group member list", Run(id::member_list)).aliased(id::GROUP_ALIASES),
    Command::new("role assignment create", Run(id::assignment_create)),
    Command::new("role assignment list", Run(id::assignment_list)),
    Command::new("role assignment delete", Run(id::assignment_delete)),
    Command::new("sig create", Create(&GALLERY)).aliased(gallery::ALIASES),
    Command::new("sig show", Show(&GALLERY)).aliased(gallery::ALIASES),
    Command::new("sig update", Update(&GALLERY)).aliased(gallery::ALIASES),
    Command::new("sig delete", Delete(&GALLERY)).aliased(gallery::ALIASES),
    Command::new("sig list", List(&GALLERY)).aliased(gallery::ALIASES),
    Command::new("sig image-definition create", Create(&IMAGE_DEFINITION))
        .aliased(gallery::ALIASES),
    Command::new("sig image-definition show", Show(&IMAGE_DEFINITION)).aliased(gallery::ALIASES),
    Command::new("sig image-definition delete", Delete(&IMAGE_DEFINITION))
        .aliased(gallery::ALIASES),
    Command::new("sig image-definition list", List(&IMAGE_DEFINITION)).aliased(gallery::ALIASES),
    Command::new("sig image-version create", Create(&IMAGE_VERSION)).aliased(gallery::ALIASES),
    Command::new("sig image-version show", Show(&IMAGE_VERSION)).aliased(gallery::ALIASES),
    Command::new("sig image-version delete", Delete(&IMAGE_VERSION)).aliased(gallery::ALIASES),
    Command::new("sig image-version list", List(&IMAGE_VERSION)).aliased(gallery::ALIASES),
    Command::new("vm create", Run(vm_create::create)),
    Command::new("vm show", Run(vm::show)).aliased(SHOW_DETAILS),
    Command::new("vm list", Run(vm::list)).aliased(SHOW_DETAILS),
    Command::new("vm delete", Run(vm_power::delete)),
    Command::new("vm start", Run(vm_power::start)),
    Command::new("vm stop", Run(vm_power::stop)),
    Command::new("vm restart", Run(vm_power::restart)),
    Command::new("vm deallocate", Run(vm_power::deallocate)),
    Command::new("vm generalize", Run(vm_power::generalize)),
    Command::new("vm get-instance-view", Run(vm::get_instance_view)),
    Command::new("vm wait", Run(wait::wait)),
    Command::new("vm run-command invoke", Run(run_command::invoke)),
    Command::new("vm run-command create", Run(managed::create)).aliased(RUN_COMMAND_NAME),
    Command::new("vm run-command show", Run(managed::show)).aliased(RUN_COMMAND_NAME),
    Command::new("vm run-command list", Run(managed::list)),
    Command::new("vm run-command delete", Run(managed::delete)).aliased(RUN_COMMAND_NAME),
    Command::new("vm extension set", Run(vm_extension::set)),
    Command::new("vm extension show", Run(vm_extension::show)).aliased(vm_extension::ALIASES),
    Command::new("vm extension list", Run(vm_extension::list)),
    Command::new("vm extension delete", Run(vm_extension::delete)).aliased(vm_extension::ALIASES),
    Command::new("disk show", Show(&DISK)),
    Command::new("disk delete", Delete(&DISK)),
    Command::new("disk list", List(&DISK)),
    Command::new("desktopvirtualization hostpool create", Create(&HOST_POOL)),
    Command::new("desktopvirtualization hostpool show", Show(&HOST_POOL)),
    Command::new("desktopvirtualization hostpool update", Update(&HOST_POOL)),
    Command::new("desktopvirtualization hostpool delete", Delete(&HOST_POOL)),
    Command::new("desktopvirtualization hostpool list", List(&HOST_POOL)),
    Command::new(
        "desktopvirtualization hostpool retrieve-registration-token",
        Run(avd::retrieve_registration_token),
    ),
    Command::new(
        "desktopvirtualization applicationgroup create",
        Create(&APP_GROUP),
    ),
    Command::new(
        "desktopvirtualization applicationgroup show",
        Show(&APP_GROUP),
    ),
    Command::new(
        "desktopvirtualization applicationgroup update",
        Update(&APP_GROUP),
    ),
    Command::new(
        "desktopvirtualization applicationgroup delete",
        Delete(&APP_GROUP),
    ),
    Command::new(
        "desktopvirtualization applicationgroup list",
        List(&APP_GROUP),
    ),
    Command::new("desktopvirtualization workspace create", Create(&WORKSPACE)),
    Command::new("desktopvirtualization workspace show", Show(&WORKSPACE)),
    Command::new("desktopvirtualization workspace update", Update(&WORKSPACE)),
    Command::new("desktopvirtualization workspace delete", Delete(&WORKSPACE)),
    Command::new("desktopvirtualization workspace list", List(&WORKSPACE)),
];

pub enum Lookup {
    /// The command and how many of the words name it.
    Found(&'static Command, usize),
    /// The words name a group of commands (`az vm`).
    Group(Vec<String>),
    Unknown(AzError),
}

fn path_words(c: &Command) -> impl Iterator<Item = &'static str> {
    c.path.split(' ')
}

pub fn lookup(words: &[String]) -> Lookup {
    let found = COMMANDS
        .iter()
        .filter(|c| {
            let n = path_words(c).count();
            n <= words.len() && path_words(c).zip(words).all(|(p, w)| p == w)
        })
        .max_by_key(|c| path_words(c).count());
    if let Some(c) = found {
        return Lookup::Found(c, path_words(c).count());
    }
    for depth in 0..words.len() {
        let prefix = &words[..depth];
        let mut next: Vec<&'static str> = COMMANDS
            .iter()
            .filter(|c| path_words(c).zip(prefix).all(|(p, w)| p == w))
            .filter_map(|c| path_words(c).nth(depth))
            .collect();
        next.sort_unstable();
        next.dedup();
        if !next.contains(&words[depth].as_str()) {
            let word = &words[depth];
            let mut error = AzError::unknown_word(word);
            if let Some(best) = similar::closest(word, next.iter().copied()) {
                error = error.with_recommendation(format!("Did you mean '{best}' ?"));
            }
            return Lookup::Unknown(error);
        }
    }
    Lookup::Group(words.to_vec())
}

/// The CLI extension a command comes from, if it is not in the core CLI:
/// without it installed, real az does not know the command's first word.
pub fn extension_of(path: &str) -> Option<&'static str> {
    path.starts_with("desktopvirtualization ")
        .then_some("desktopvirtualization")
}

/// What `az <group>` (or `--help`) prints: the commands under the words.
pub fn group_help(words: &[String]) -> String {
    let mut lines: Vec<String> = COMMANDS
        .iter()
        .filter(|c| {
            path_words(c).count() > words.len() && path_words(c).zip(words).all(|(p, w)| p == w)
        })
        .map(|c| format!("    az {}", c.path))
        .collect();
    lines.sort();
    format!(
        "\nGroup\n    az {}\n\nCommands simulated by goldsmith:\n{}\n",
        words.join(" "),
        lines.join("\n")
    )
}
