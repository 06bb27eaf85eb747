//! What pressing a function's key leads to: the prompt or confirmation it needs first, and
//! what the answer leads to.

use std::sync::Arc;

use super::draft::{draft, mode_words, short_caller, user_words};
use super::rules::{check, target};
use super::{Choice, Confirm, FunctionRefusal, FunctionStep, Prompt, Scene};
use crate::model::{AccountCodes, Function, FunctionTarget, Queue, ServiceMode, User};
use crate::ui::rows::by_number;
use crate::ui::rows::caller_words;
use crate::ui::text::{clean, duration};

// What to ask, and what to send

/// Every extension and queue, for completing a transfer target.
fn destinations(scene: &Scene<'_>) -> Vec<Choice> {
    let model = scene.model();
    let mut users: Vec<&Arc<User>> = model.users().collect();
    users.sort_by(|a, b| by_number(&a.extn, &b.extn));
    let mut queues: Vec<&Arc<Queue>> = model.queues().collect();
    queues.sort_by(|a, b| by_number(&a.extn, &b.extn));
    let mut out: Vec<Choice> = users
        .iter()
        .filter(|u| !u.extn.is_empty())
        .map(|u| Choice {
            value: clean(&u.extn).into_owned(),
            label: format!(
                "{} {} ({})",
                clean(&u.extn),
                clean(&u.name),
                u.agent.state.word()
            ),
        })
        .collect();
    out.extend(
        queues
            .iter()
            .filter(|q| !q.extn.is_empty())
            .map(|q| Choice {
                value: clean(&q.extn).into_owned(),
                label: format!("{} {} (queue)", clean(&q.extn), clean(&q.name)),
            }),
    );
    out
}

/// Free park slots, lowest first: numbers from 1 not in use on the park server.
fn free_slots(scene: &Scene<'_>, n: usize) -> Vec<String> {
    let used: Vec<String> = scene
        .model()
        .parked()
        .map(|a| a.call.park_slot.trim().to_owned())
        .collect();
    (1u32..)
        .map(|i| i.to_string())
        .filter(|s| !used.contains(s))
        .take(n)
        .collect()
}

/// What pressing `f`'s key leads to, or why it does nothing.
pub fn plan(scene: &Scene<'_>, f: Function) -> Result<FunctionStep, FunctionRefusal> {
    let t = target(scene, f)?;
    check(scene, f, &t)?;
    let model = scene.model();
    let call = match &t {
        FunctionTarget::Call(id) => model.appearance(*id).cloned(),
        _ => None,
    };
    let who = call.as_deref().map(short_caller).unwrap_or_default();
    let prompt = |label: String, choices: Vec<Choice>| Prompt::new(f, t.clone(), label, choices);
    let step = match f {
        Function::Transfer => {
            FunctionStep::Prompt(prompt(format!("Transfer {who} to:"), destinations(scene)))
        }
        Function::Redirect => {
            FunctionStep::Prompt(prompt(format!("Redirect {who} to:"), destinations(scene)))
        }
        Function::Park => {
            let slots = free_slots(scene, 8);
            let mut p = prompt(
                format!("Park {who} in slot:"),
                slots
                    .iter()
                    .map(|s| Choice {
                        value: s.clone(),
                        label: format!("{s} (free)"),
                    })
                    .collect(),
            );
            if let Some(first) = slots.first() {
                p.input.clone_from(first);
                p.suggestion = true;
                p.refilter();
            }
            if !model.park_available() {
                p.note = Some("the park server is not followed: free slots unknown".to_owned());
            }
            FunctionStep::Prompt(p)
        }
        Function::Tag => {
            let mut p = prompt(format!("Tag {who}:"), Vec::new());
            let now = call.as_ref().map(|a| clean(&a.call.tag).into_owned());
            p.note = Some(match now.filter(|t| !t.trim().is_empty()) {
                Some(t) => format!("now “{t}”; empty clears it"),
                None => "empty clears the tag".to_owned(),
            });
            FunctionStep::Prompt(p)
        }
        Function::AccountCode => {
            let listed: Vec<Choice> = match scene.model().account_codes() {
                AccountCodes::List { codes } => codes
                    .iter()
                    .map(|c| Choice {
                        value: clean(c).into_owned(),
                        label: clean(c).into_owned(),
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let mut p = prompt(format!("Account code for {who}:"), listed);
            // A listed code may be a pattern the PBX resolves (`?` and `*`): then any code
            // can be typed, the list only completes.
            let patterns = p.choices.iter().any(|c| c.value.contains(['?', '*']));
            p.note = match scene.model().account_codes() {
                AccountCodes::List { .. } if p.choices.is_empty() => {
                    Some("the PBX lists no account codes: type one".to_owned())
                }
                AccountCodes::List { .. } if patterns => {
                    Some("the PBX's list has patterns: type a code, Tab completes".to_owned())
                }
                AccountCodes::List { .. } => None,
                AccountCodes::FreeText { reason } => Some(format!(
                    "the PBX's list could not be read ({}): type a code",
                    clean(reason)
                )),
                AccountCodes::Unknown => {
                    Some("the PBX's list of account codes is not known yet: type a code".to_owned())
                }
            };
            if !p.choices.is_empty() && !patterns {
                p.choices_only = true;
                p.refilter();
            }
            FunctionStep::Prompt(p)
        }
        Function::Priority => {
            let now = call
                .as_ref()
                .and_then(|a| a.call.queue.as_ref())
                .map_or(0, |q| q.priority);
            let mut p = prompt(
                format!("Priority for {who}:"),
                [(1, "low"), (2, "medium"), (3, "high")]
                    .iter()
                    .map(|(n, w)| Choice {
                        value: n.to_string(),
                        label: if *n == now {
                            format!("{n} {w} (now)")
                        } else {
                            format!("{n} {w}")
                        },
                    })
                    .collect(),
            );
            p.choices_only = true;
            p.refilter();
            if let Some(i) = p.matches.iter().position(|i| {
                p.choices
                    .get(*i)
                    .is_some_and(|c| c.value == now.to_string())
            }) {
                p.picked = Some(i);
            }
            FunctionStep::Prompt(p)
        }
        Function::ServiceMode => {
            let q = match &t {
                FunctionTarget::Queue(g) => model.queue(g),
                _ => None,
            };
            let now = q.map_or(ServiceMode::Unset, |q| q.service_mode());
            let name = q.map(|q| clean(&q.name).into_owned()).unwrap_or_default();
            let choices: Vec<Choice> = [
                (ServiceMode::Active, "Active"),
                (ServiceMode::NightService, "Night service"),
                (ServiceMode::OutOfService, "Out of service"),
            ]
            .iter()
            .filter(|(m, _)| *m != now)
            .map(|(_, w)| Choice {
                value: (*w).to_owned(),
                label: (*w).to_owned(),
            })
            .collect();
            let mut p = prompt(format!("Service mode for {name}:"), choices);
            p.choices_only = true;
            p.note = Some(format!("now {}", mode_words(now)));
            p.refilter();
            FunctionStep::Prompt(p)
        }
        Function::Drop | Function::ForceClear => {
            let a = call.as_deref();
            // How long, first: on a narrow screen the caller's name gives way, not that.
            let (state, the_call) = match a {
                Some(a) => {
                    let (what, since) = if a.call.state.is_waiting() {
                        ("waiting", a.first_seen)
                    } else {
                        ("", a.state_since)
                    };
                    let what = if what.is_empty() {
                        a.call.state.to_string().to_lowercase()
                    } else {
                        what.to_owned()
                    };
                    let who = caller_words(a);
                    (
                        format!(" ({what} {})", duration(scene.since(since))),
                        if who.is_empty() {
                            String::new()
                        } else {
                            format!(" from {who}")
                        },
                    )
                }
                None => (String::new(), String::new()),
            };
            let (question, yes) = if f == Function::Drop {
                (format!("Drop the call{state}{the_call}?"), "drop")
            } else {
                (
                    format!("FORCE CLEAR the call{state}{the_call} all the way to its source?"),
                    "force clear",
                )
            };
            FunctionStep::Confirm(Confirm {
                function: f,
                target: t,
                argument: None,
                question,
                word: None,
                typed: String::new(),
                yes: yes.to_owned(),
            })
        }
        Function::Dnd => {
            let u = match &t {
                FunctionTarget::Agent(g) => model.user(g),
                _ => None,
            };
            let on = !u.is_some_and(|u| u.dnd());
            let who = u.map(|u| user_words(u)).unwrap_or_default();
            FunctionStep::Confirm(Confirm {
                function: f,
                target: t,
                argument: Some(if on { "on" } else { "off" }.to_owned()),
                question: format!(
                    "Turn do not disturb {} for {who}?",
                    if on { "ON" } else { "OFF" }
                ),
                word: None,
                typed: String::new(),
                yes: if on { "DND on" } else { "DND off" }.to_owned(),
            })
        }
        _ => FunctionStep::Send(draft(scene, f, &t, None)?),
    };
    Ok(step)
}

/// What a prompt's answer leads to: a confirmation (service mode), or the request.
pub fn answer(scene: &Scene<'_>, p: &Prompt) -> Result<FunctionStep, String> {
    if p.choices_only && p.picked_choice().is_none() {
        return Err("pick one of the choices (type to narrow them, Tab to pick)".to_owned());
    }
    let text = p.shown().trim().to_owned();
    let max = |n: usize, what: &str| {
        if text.chars().count() > n {
            Err(format!("{what} is at most {n} characters"))
        } else {
            Ok(())
        }
    };
    match p.function {
        Function::Transfer | Function::Redirect => {
            if text.is_empty() {
                return Err("type a number, or pick one with Tab".to_owned());
            }
            max(78, "a number")?;
        }
        Function::Park => {
            if text.is_empty() {
                return Err("type a park slot".to_owned());
            }
            max(9, "a park slot")?;
        }
        Function::Tag => max(127, "a tag")?,
        Function::AccountCode => max(15, "an account code")?,
        Function::Priority if !["1", "2", "3"].contains(&text.as_str()) => {
            return Err("pick 1, 2 or 3".to_owned());
        }
        Function::ServiceMode => {
            let mode = match text.as_str() {
                "Active" => ServiceMode::Active,
                "Night service" => ServiceMode::NightService,
                "Out of service" => ServiceMode::OutOfService,
                _ => return Err("pick a service mode".to_owned()),
            };
            let name = match &p.target {
                FunctionTarget::Queue(g) => scene
                    .model()
                    .queue(g)
                    .map(|q| clean(&q.name).into_owned())
                    .unwrap_or_default(),
                _ => String::new(),
            };
            let (question, word) = match mode {
                ServiceMode::OutOfService => (
                    format!("Put queue {name} OUT OF SERVICE? Callers will be diverted."),
                    Some("OOS"),
                ),
                ServiceMode::NightService => (
                    format!("Put queue {name} in NIGHT SERVICE? Callers go to its night route."),
                    None,
                ),
                _ => (format!("Put queue {name} back in service (Active)?"), None),
            };
            return Ok(FunctionStep::Confirm(Confirm {
                function: p.function,
                target: p.target.clone(),
                argument: Some(text),
                question,
                word,
                typed: String::new(),
                yes: mode_words(mode),
            }));
        }
        _ => {}
    }
    if text.chars().any(char::is_control) {
        return Err("control characters cannot be sent".to_owned());
    }
    draft(scene, p.function, &p.target, Some(text))
        .map(FunctionStep::Send)
        .map_err(|r| r.why)
}
