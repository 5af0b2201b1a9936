//! `az vm wait`: polls the VM's instance view every `--interval` simulated
//! seconds until `--created`, `--updated`, `--deleted`, `--exists` or a
//! `--custom` JMESPath condition holds, for at most `--timeout` seconds.

use serde_json::{Value, json};

use super::call::{Call, Outcome};
use super::error::AzError;
use super::output::Query;
use super::vm;
use super::world::vm_key;

pub fn wait(call: &Call) -> Outcome {
    let (rg, name) = vm::target(call)?;
    let created = call.args.flag("created")?;
    let updated = call.args.flag("updated")?;
    let deleted = call.args.flag("deleted")?;
    let exists = call.args.flag("exists")?;
    let custom = call
        .args
        .one("custom")?
        .map(|c| Query::compile(&c))
        .transpose()?;
    let timeout = call.opt_int("timeout", 3600)?.max(0);
    let interval = call.opt_int("interval", 30)?.max(1);
    let sub = call.sub().to_string();
    // az polls once per `range(0, timeout, interval)` step.
    let polls = (timeout + interval - 1) / interval;
    for _ in 0..polls {
        let seen: Result<Value, AzError> = call.sim.transact(|state, now| {
            if !state.group_exists(&sub, &rg) {
                return Err(AzError::group_not_found(&rg));
            }
            state
                .vms
                .get(&vm_key(&sub, &rg, &name))
                .map(|v| vm::instance_view(v, &sub, now))
                .ok_or_else(|| AzError::vm_not_found(&rg, &name))
        })?;
        match seen {
            Err(not_found) => {
                if deleted {
                    return Ok(None);
                }
                if !(created || exists || custom.is_some()) {
                    return Err(not_found);
                }
            }
            Ok(view) => {
                if exists {
                    return Ok(None);
                }
                let state = view["provisioningState"].as_str().unwrap_or_default();
                if state == "Failed" {
                    return Err(AzError::cli("The operation failed"));
                }
                if (created || updated) && state == "Succeeded" {
                    return Ok(None);
                }
                if let Some(q) = &custom
                    && q.holds(&view)?
                {
                    return Ok(None);
                }
            }
        }
        call.delay(interval as f64);
    }
    // az 2.91 returns (not raises) its "Wait operation timed-out after N
    // seconds" error, which prints as `{}` with exit code 0 (Azure/azure-cli#34004).
    Ok(Some(json!({})))
}
