//! One plan from several: a module's dependencies first, then the module
//! itself (`run --with-dependencies`).
//!
//! Each module is planned on its own first (so every problem is reported at
//! its own file), then the plans are appended stage by stage. Operation ids are
//! unique in the catalog and name one log, one script and one state entry per
//! run, so an operation several modules list (`create-resource-group`) runs
//! once, at its first place, with the first module's entry settings; later
//! uses then wait for it as they waited for their own earlier stages. That is
//! only sound when every use renders the same script from the same inputs
//! (the same fingerprint): otherwise the merge is refused.

use std::collections::HashMap;

use super::{Plan, PlannedOp, Stage};

/// The plans in run order (dependencies first, the module last) as one plan of
/// the last one's module; an error says which operation two modules render differently.
pub fn merge(plans: Vec<Plan>) -> Result<Plan, String> {
    let mut plans = plans;
    let mut last = plans
        .pop()
        .expect("merge takes at least the module's own plan");
    if plans.is_empty() {
        return Ok(last);
    }
    let mut merged = Merged::default();
    let dependencies: Vec<String> = plans.iter().map(|p| p.module.id.clone()).collect();
    // A value an earlier module chooses is the one the later ones use: the
    // session hosts deploy the image version the golden image publishes.
    let mut run_values: Vec<super::run_values::RunValue> = Vec::new();
    for v in plans.iter().chain([&last]).flat_map(|p| &p.run_values) {
        if !run_values.iter().any(|r| r.name == v.name) {
            run_values.push(v.clone());
        }
    }
    for plan in plans {
        merged.append(plan)?;
    }
    merged.append(Plan {
        stages: std::mem::take(&mut last.stages),
        ops: std::mem::take(&mut last.ops),
        ..last.clone()
    })?;
    let (estimated_duration, critical_path, ops_without_estimate) =
        super::planner::estimate(&merged.ops, &merged.stages);
    Ok(Plan {
        stages: merged.stages,
        ops: merged.ops,
        estimated_duration,
        critical_path,
        ops_without_estimate,
        dependencies,
        run_values,
        ..last
    })
}

#[derive(Default)]
struct Merged {
    stages: Vec<Stage>,
    ops: Vec<PlannedOp>,
    /// Index in `ops` of each operation id.
    index: HashMap<String, usize>,
}

impl Merged {
    fn append(&mut self, plan: Plan) -> Result<(), String> {
        // Where each of the plan's ops lands: an op already planned, or a new place.
        let mut place = Vec::with_capacity(plan.ops.len());
        let mut fresh = Vec::with_capacity(plan.ops.len());
        let mut next = self.ops.len();
        for op in &plan.ops {
            match self.index.get(&op.id) {
                Some(&i) if self.ops[i].fingerprint == op.fingerprint => {
                    place.push(i);
                    fresh.push(false);
                }
                Some(&i) => {
                    return Err(format!(
                        "operation `{}` is listed by modules `{}` and `{}`, and renders differently for each; it can run only once in a run, so run `{}` on its own first",
                        op.id, self.ops[i].module, op.module, self.ops[i].module
                    ));
                }
                None => {
                    place.push(next);
                    fresh.push(true);
                    next += 1;
                }
            }
        }
        for stage in &plan.stages {
            let ops: Vec<usize> = stage
                .ops
                .iter()
                .filter(|&&i| fresh[i])
                .map(|&i| place[i])
                .collect();
            if !ops.is_empty() {
                self.stages.push(Stage {
                    number: self.stages.len() + 1,
                    parallel_group: stage.parallel_group,
                    ops,
                });
            }
        }
        let stage_of: HashMap<usize, usize> = self
            .stages
            .iter()
            .flat_map(|s| s.ops.iter().map(move |&i| (i, s.number)))
            .collect();
        for (i, mut op) in plan.ops.into_iter().enumerate() {
            if !fresh[i] {
                continue;
            }
            op.stage = stage_of[&place[i]];
            op.depends_on = op.depends_on.iter().map(|&d| place[d]).collect();
            self.adopt_requirements(&mut op);
            op.depends_on.sort_unstable();
            op.depends_on.dedup();
            self.index.insert(op.id.clone(), self.ops.len());
            self.ops.push(op);
        }
        Ok(())
    }

    /// A `requires` outside the op's module that an earlier module of this run
    /// provides is no longer checked against earlier runs: the op waits for it.
    fn adopt_requirements(&self, op: &mut PlannedOp) {
        let mut outside = Vec::new();
        for r in std::mem::take(&mut op.requires_outside) {
            match self.index.get(&r.id) {
                // Waiting for every earlier stage already includes it.
                Some(&i) if !op.waits_for_stage => op.depends_on.push(i),
                Some(_) => {}
                None => outside.push(r),
            }
        }
        op.requires_outside = outside;
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::plan::{ExternalRequirement, ModuleRef};

    fn op(module: &str, id: &str, stage: usize, fingerprint: &str) -> PlannedOp {
        PlannedOp {
            module: module.into(),
            expected: Some(Duration::from_secs(10)),
            fingerprint: fingerprint.into(),
            ..PlannedOp::for_test(id, stage)
        }
    }

    /// A plan of `module` whose ops are `(id, stage)`, each stage one parallel group.
    fn plan(module: &str, ops: Vec<PlannedOp>) -> Plan {
        let count = ops.iter().map(|o| o.stage).max().unwrap_or(0);
        let stages = (1..=count)
            .map(|number| Stage {
                number,
                parallel_group: Some(number as u32),
                ops: (0..ops.len()).filter(|&i| ops[i].stage == number).collect(),
            })
            .collect();
        Plan {
            version: super::super::PLAN_VERSION,
            module: ModuleRef {
                id: module.into(),
                name: module.into(),
                folder: module.into(),
                file: PathBuf::from(format!("modules/{module}/module.yaml")),
            },
            stages,
            ops,
            estimated_duration: Duration::ZERO,
            critical_path: Vec::new(),
            ops_without_estimate: 0,
            dependencies: Vec::new(),
            run_values: Vec::new(),
        }
    }

    #[test]
    fn a_shared_operation_runs_once_and_indexes_follow_it() {
        let rg = plan("rg", vec![op("rg", "create-rg", 1, "a")]);
        let mut subnet = op("net", "create-subnet", 2, "c");
        subnet.depends_on = vec![1];
        subnet.waits_for_stage = false;
        let net = plan(
            "net",
            vec![
                op("net", "create-rg", 1, "a"),
                op("net", "create-vnet", 2, "b"),
                subnet,
            ],
        );
        let mut vm = op("image", "create-vm", 1, "d");
        vm.requires_outside = vec![ExternalRequirement {
            id: "create-subnet".into(),
            optional: false,
        }];
        vm.waits_for_stage = false;
        let image = plan("image", vec![vm]);

        let merged = merge(vec![rg, net, image]).expect("merges");
        let ids: Vec<&str> = merged.ops.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(
            ids,
            ["create-rg", "create-vnet", "create-subnet", "create-vm"]
        );
        assert_eq!(merged.stages.len(), 3, "the emptied stage is dropped");
        assert_eq!(
            merged.ops.iter().map(|o| o.stage).collect::<Vec<_>>(),
            [1, 2, 2, 3]
        );
        assert_eq!(
            merged.ops[2].depends_on,
            [1],
            "create-subnet waits for create-vnet"
        );
        assert_eq!(
            merged.ops[3].depends_on,
            [2],
            "the requirement is now inside the run"
        );
        assert!(merged.ops[3].requires_outside.is_empty());
        assert_eq!(merged.ops[0].module, "rg");
        assert_eq!(merged.module.id, "image");
        assert_eq!(merged.dependencies, ["rg", "net"]);
        assert_eq!(merged.estimated_duration, Duration::from_secs(40));
    }

    #[test]
    fn a_shared_operation_rendered_differently_is_refused() {
        let a = plan("a", vec![op("a", "create-rg", 1, "one")]);
        let b = plan("b", vec![op("b", "create-rg", 1, "two")]);
        let err = merge(vec![a, b]).expect_err("refused");
        assert!(
            err.contains("`create-rg`") && err.contains("`a` and `b`"),
            "{err}"
        );
    }

    #[test]
    fn a_value_an_earlier_module_chooses_is_the_one_later_modules_use() {
        let value = |from: &str| crate::plan::run_values::RunValue {
            name: "COMPUTE_IMAGE_VERSION".into(),
            asked: "auto".into(),
            from: from.into(),
            value: None,
            script: String::new(),
            timeout: Duration::from_secs(60),
        };
        let mut image = plan("image", vec![op("image", "publish", 1, "a")]);
        image.run_values = vec![value("next-image-version")];
        let mut hosts = plan("hosts", vec![op("hosts", "deploy", 1, "b")]);
        hosts.run_values = vec![value("latest-image-version")];
        let merged = merge(vec![image, hosts]).expect("merged");
        assert_eq!(merged.run_values.len(), 1);
        assert_eq!(merged.run_values[0].from, "next-image-version");
    }
}
