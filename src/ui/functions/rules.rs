//! What a function's key acts on (from the focus, the open detail and the selection), whether
//! it belongs there, and how its key is offered now.

use std::sync::Arc;

use super::{FunctionRefusal, Offer, Scene};
use crate::model::{
    Appearance, CallState, Disallowed, Function, FunctionTarget, Guid, LineId, Text, User,
};
use crate::ui::keymap::KeyAction;
use crate::ui::rows::{agent_call, agent_calls};
use crate::ui::screen::{DetailTarget, Overlay, Pane};
use crate::ui::text::clean;

// What a key acts on

/// The supervisor's user, when configured and on this PBX.
pub fn supervisor<'a>(scene: &Scene<'a>) -> Option<&'a Arc<User>> {
    let extn = scene.config().supervisor.as_deref()?;
    scene.model().user_by_extn(extn)
}

/// The supervisor's calls, in the order the My line strip shows them: ringing first, then
/// connected, then held.
pub fn my_calls<'a>(scene: &Scene<'a>) -> Vec<&'a Arc<Appearance>> {
    match supervisor(scene) {
        Some(u) => agent_calls(scene.model(), u),
        None => Vec::new(),
    }
}

/// The call an agent's detail has picked (its calls in [`agent_calls`] order).
pub fn picked_agent_call<'a>(
    scene: &Scene<'a>,
    guid: &Guid,
    pick: usize,
) -> Option<&'a Arc<Appearance>> {
    let u = scene.model().user(guid)?;
    agent_calls(scene.model(), u).get(pick).copied()
}

/// The member a queue's detail has picked.
pub fn picked_member(scene: &Scene<'_>, guid: &Guid, pick: usize) -> Option<Text> {
    let q = scene.model().queue(guid)?;
    q.members().get(pick).map(|m| m.extn.clone())
}

fn no_supervisor(scene: &Scene<'_>) -> String {
    match scene.config().supervisor.as_deref() {
        None => "set [supervisor] extension (your own phone) in the configuration".to_owned(),
        Some(e) => format!("your extension {} is not on this PBX", clean(e)),
    }
}

const CALL_HERE: &str =
    "select a call first: a waiting call, an agent with a call, or a parked call";

/// What the function would act on now, from the focus, the open detail and the selection.
pub fn target(scene: &Scene<'_>, f: Function) -> Result<FunctionTarget, FunctionRefusal> {
    match f {
        Function::Answer | Function::Hold => {
            if supervisor(scene).is_none() {
                return Err(FunctionRefusal::elsewhere(format!(
                    "{} works on your own line only; {}",
                    f.word(),
                    no_supervisor(scene)
                )));
            }
            let calls = my_calls(scene);
            let pick = match f {
                Function::Answer => calls.iter().find(|a| a.call.state.is_ringing()),
                _ => calls
                    .iter()
                    .find(|a| a.call.state == CallState::Connected)
                    .or_else(|| calls.iter().find(|a| a.call.state.is_held())),
            };
            return match pick {
                Some(a) => Ok(FunctionTarget::Call(a.id)),
                None if f == Function::Answer => Err(FunctionRefusal::elsewhere(
                    "nothing rings on your own line (answer works only there, never on an \
                     agent's phone)",
                )),
                None => Err(FunctionRefusal::elsewhere(
                    "no call on your own line to hold or take off hold (never on an agent's \
                     phone)",
                )),
            };
        }
        Function::ServiceMode => {
            return match scene.overlay() {
                Overlay::Detail {
                    target: DetailTarget::Queue(g),
                    ..
                } => Ok(FunctionTarget::Queue(g.clone())),
                Overlay::Detail { .. } => Err(FunctionRefusal::elsewhere(
                    "service mode is set on a queue: open a queue's detail, or select it",
                )),
                _ => match (scene.focus(), scene.selection().queue.clone()) {
                    (Pane::Queues | Pane::Waiting, Some(q)) => Ok(FunctionTarget::Queue(q)),
                    _ => Err(FunctionRefusal::elsewhere(
                        "service mode is set on a queue: select one in the queues pane",
                    )),
                },
            };
        }
        Function::Member => {
            return match scene.overlay() {
                Overlay::Detail {
                    target: DetailTarget::Queue(g),
                    pick,
                    ..
                } => match picked_member(scene, g, *pick) {
                    Some(extn) => Ok(FunctionTarget::Member {
                        queue: g.clone(),
                        extn,
                    }),
                    None => Err(FunctionRefusal::fits("this queue lists no members")),
                },
                _ => Err(FunctionRefusal::elsewhere(
                    "members are enabled and disabled in a queue's detail: select the queue \
                     and press Enter",
                )),
            };
        }
        Function::Dnd => {
            return match scene.overlay() {
                Overlay::Detail {
                    target: DetailTarget::Agent(g),
                    ..
                } => Ok(FunctionTarget::Agent(g.clone())),
                Overlay::Detail { .. } => Err(FunctionRefusal::elsewhere(
                    "DND is set on an agent: open an agent's detail, or select one",
                )),
                _ => match (scene.focus(), scene.selection().agent.clone()) {
                    (Pane::Agents, Some(g)) => Ok(FunctionTarget::Agent(g)),
                    _ => Err(FunctionRefusal::elsewhere(
                        "DND is set on an agent: select one in the agents pane",
                    )),
                },
            };
        }
        _ => {}
    }
    let call = match scene.overlay() {
        Overlay::Detail {
            target: DetailTarget::Call { id, .. },
            ..
        } => Some(*id),
        Overlay::Detail {
            target: DetailTarget::Agent(g),
            pick,
            ..
        } => match picked_agent_call(scene, g, *pick) {
            Some(a) => Some(a.id),
            None => return Err(FunctionRefusal::elsewhere("this agent has no call")),
        },
        Overlay::Detail {
            target: DetailTarget::Queue(_),
            ..
        } => return Err(FunctionRefusal::elsewhere(CALL_HERE)),
        _ => match scene.focus() {
            Pane::Waiting => scene.selection().call,
            Pane::Parked => scene.selection().parked,
            Pane::Agents => {
                let user = scene
                    .selection()
                    .agent
                    .as_ref()
                    .and_then(|g| scene.model().user(g));
                match user.map(|u| agent_call(scene.model(), u).0) {
                    Some(Some(a)) => Some(a.id),
                    Some(None) => return Err(FunctionRefusal::elsewhere("this agent has no call")),
                    None => None,
                }
            }
            Pane::Queues => None,
        },
    };
    call.map(FunctionTarget::Call)
        .ok_or_else(|| FunctionRefusal::elsewhere(CALL_HERE))
}

// --------------------------------------------------------------------------------------------
// Whether the PBX allows it

/// Whether `f` may be used on `target` now: whether it belongs there (line type, the
/// supervisor's own line or an agent's, the call's state for barge and pick up), then the
/// model's own check ([`crate::model::Tables::allows`]: feature bits, line type, the
/// supervisor's MAKECALL right). Read-only mode and the link are checked by the caller.
pub fn check(
    scene: &Scene<'_>,
    f: Function,
    target: &FunctionTarget,
) -> Result<(), FunctionRefusal> {
    let model = scene.model();
    if let FunctionTarget::Call(id) = target {
        let a = model
            .appearance(*id)
            .ok_or_else(|| FunctionRefusal::fits("the call has ended"))?;
        fits_call(scene, f, a)?;
    }
    model
        .allows(f, target, scene.config().supervisor.as_deref())
        .map_err(|why| match why {
            Disallowed::NotHere(why) => FunctionRefusal::elsewhere(why.to_string()),
            Disallowed::NotNow(why) => FunctionRefusal::fits(clean(&why).into_owned()),
        })
}

/// Whether `f` belongs with this call at all: a refusal here hides the function's hint.
fn fits_call(scene: &Scene<'_>, f: Function, a: &Appearance) -> Result<(), FunctionRefusal> {
    let own = matches!(
        (&a.key.line, supervisor(scene)),
        (LineId::User(g), Some(u)) if *g == u.guid
    );
    let kind = match &a.key.line {
        LineId::Queue(_) => "a queue's call",
        LineId::User(_) => "an agent's call",
        LineId::ParkServer => "a parked call",
    };
    if !f.lines().has(&a.key.line) {
        let only = match f {
            Function::Priority => "priority is set on a queued call: select a waiting call",
            Function::Unpark => "unpark works on a parked call: select one in the parked pane",
            Function::Answer | Function::Hold => {
                "it works on your own line only, never on an agent's phone"
            }
            Function::Barge => "barge works on an agent's connected call: select the agent",
            Function::Pickup => "pick up works on a ringing call: select the agent it rings",
            Function::Redirect | Function::Park | Function::AccountCode => {
                "the document does not allow it on a parked call"
            }
            _ => "not on this kind of call",
        };
        return Err(FunctionRefusal::elsewhere(format!(
            "{only} (this is {kind})"
        )));
    }
    match f {
        Function::Answer | Function::Hold if !own => Err(FunctionRefusal::elsewhere(
            "it works on your own line only, never on an agent's phone",
        )),
        Function::Barge | Function::Pickup if own => Err(FunctionRefusal::elsewhere(
            "this is a call on your own line",
        )),
        Function::Barge if a.call.state != CallState::Connected => Err(FunctionRefusal::elsewhere(
            format!("barge needs a connected call; this one is {}", a.call.state),
        )),
        Function::Pickup if !a.call.state.is_ringing() => Err(FunctionRefusal::elsewhere(format!(
            "pick up needs a ringing call; this one is {}",
            a.call.state
        ))),
        Function::Hold if a.call.state != CallState::Connected && !a.call.state.is_held() => {
            Err(FunctionRefusal::elsewhere(format!(
                "hold needs a connected or held call; this one is {}",
                a.call.state
            )))
        }
        _ => Ok(()),
    }
}

/// How a function's key is offered now (for hints, help and the detail's list).
pub fn offer(scene: &Scene<'_>, f: Function) -> Offer {
    if scene.config().read_only || !scene.config().keymap.offers(KeyAction::Function(f)) {
        return Offer::Hidden;
    }
    let t = match target(scene, f) {
        Ok(t) => t,
        Err(r) if r.fits => return Offer::Dimmed(r.why),
        Err(_) => return Offer::Hidden,
    };
    match check(scene, f, &t) {
        Err(r) if r.fits => Offer::Dimmed(r.why),
        Err(_) => Offer::Hidden,
        Ok(()) if !scene.model().connection().is_up() => {
            Offer::Dimmed("not connected to the PBX".to_owned())
        }
        Ok(()) => Offer::Ready,
    }
}

// --------------------------------------------------------------------------------------------
