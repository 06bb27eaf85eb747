//! The call, queue and user functions on the screen: each key on each kind of appearance
//! becomes the right domain command, or says why nothing happened; prompts complete and
//! send what they show; confirmations go ahead only on their key (Enter never confirms) and
//! any other key cancels; Out of service needs OOS typed; an open prompt is cancelled when its
//! call ends or loses the feature bit; read-only blocks everything; force clear exists only
//! when allowed; outcomes reach the status line and the history.

mod ui_fixture;

use ipo_top::model::{
    AccountCodes, AppearanceId, AppearanceKey, CallFeatureBits, CallLost, CallSnapshot, CallState,
    Command, CommandStatus, ConnectionState, Direction, Function, LineId, Priority, ServiceMode,
    Text,
};
use ipo_top::ui::{
    Action, App, Context, Event, Key, KeyAction, KeyCode, Keymap, Level, Modal, Overlay, Pane,
    Request, Theme, UiConfig,
};
use ui_fixture::{CLAIMS, ROADSIDE, Site, app, busy_site, gcid, guid, party, render};

fn press(app: &mut App, key: Key) -> Vec<Action> {
    app.update(Event::Key(key))
}

fn c(ch: char) -> Key {
    Key::char(ch)
}

fn k(code: KeyCode) -> Key {
    Key::plain(code)
}

fn typed(app: &mut App, text: &str) {
    for ch in text.chars() {
        assert_eq!(press(app, c(ch)), [], "typing {ch}");
    }
}

fn feed(app: &mut App, site: &mut Site) {
    let evs = site.events();
    app.update(Event::Model(evs));
}

/// The one request in `actions`.
fn sent(actions: Vec<Action>) -> Request {
    match actions.as_slice() {
        [Action::Send(r)] => r.clone(),
        other => panic!("expected one request, got {other:?}"),
    }
}

fn status(app: &App) -> String {
    app.status().map(|m| m.text.clone()).unwrap_or_default()
}

/// The appearance id of `callid` on `line`.
fn id(app: &App, line: LineId, callid: i32) -> AppearanceId {
    let key = AppearanceKey { line, callid };
    app.model()
        .appearance_at(&key)
        .map(|a| a.id)
        .unwrap_or_else(|| panic!("no appearance {key:?}"))
}

/// The busy site's screen, the selection on the longest-waiting Claims Desk call (51,
/// Harbour Freight Ltd).
fn screen() -> (Site, App) {
    let (site, evs) = busy_site();
    let a = app(&site, evs, 160, 48, Theme::colour());
    (site, a)
}

fn with_config(site: &Site, f: impl FnOnce(&mut UiConfig)) -> App {
    let mut config = UiConfig {
        pbx: "ipo-hq.example.net".into(),
        supervisor: Some("4190".into()),
        ..UiConfig::default()
    };
    f(&mut config);
    let mut a = App::new(config, site.at(0));
    a.update(Event::Resize {
        width: 160,
        height: 48,
    });
    a
}

/// Moves to the agents pane and down to `extn`.
fn select_agent(app: &mut App, extn: &str) {
    while app.focus() != Pane::Agents {
        press(app, k(KeyCode::Tab));
    }
    press(app, k(KeyCode::Home));
    for _ in 0..20 {
        let g = app.selection().agent.clone();
        if g.and_then(|g| app.model().user(&g).map(|u| u.extn == extn)) == Some(true) {
            return;
        }
        press(app, c('j'));
    }
    panic!("agent {extn} not found");
}

fn select_parked(app: &mut App) {
    while app.focus() != Pane::Parked {
        press(app, k(KeyCode::Tab));
    }
}

#[test]
fn transfer_prompts_completes_and_sends_what_it_shows() {
    let (_site, mut a) = screen();
    let harbour = id(&a, LineId::Queue(guid(CLAIMS)), 51);
    assert_eq!(press(&mut a, c('t')), []);
    assert_eq!(a.context(), Context::Prompt);
    let text = render(&a);
    assert!(text.contains("Transfer 02079460958 to:"), "{text}");
    // Completions from known extensions and queues, narrowed by what is typed.
    typed(&mut a, "410");
    let text = render(&a);
    assert!(text.contains("4101 Achterberg (DND)"), "{text}");
    assert!(!text.contains("7301 Claims Desk (queue)"), "{text}");
    // Tab picks the first, Down the next: the prompt shows it, Enter sends it.
    press(&mut a, k(KeyCode::Tab));
    press(&mut a, k(KeyCode::Down));
    press(&mut a, k(KeyCode::Down));
    let Some(Modal::Prompt(p)) = a.modal() else {
        panic!("the prompt closed")
    };
    assert_eq!(p.shown(), "4103");
    let r = sent(press(&mut a, k(KeyCode::Enter)));
    assert_eq!(
        r.command,
        Command::Transfer {
            on: harbour,
            target: Text::from("4103")
        }
    );
    assert_eq!(r.words, "transferring 02079460958 to 4103");
    assert_eq!(r.audit.action, "BlindTransfer");
    assert_eq!(r.audit.appearance.kind, "queue");
    assert_eq!(r.audit.appearance.extn, "7301");
    assert_eq!(r.audit.argument, "4103");
    assert!(a.modal().is_none());
    assert_eq!(status(&a), "transferring 02079460958 to 4103 …");

    // A queue by its name; typing after a pick carries on from what is shown.
    press(&mut a, c('t'));
    typed(&mut a, "road");
    press(&mut a, k(KeyCode::Tab));
    let r = sent(press(&mut a, k(KeyCode::Enter)));
    assert_eq!(
        r.command,
        Command::Transfer {
            on: harbour,
            target: Text::from("7302")
        }
    );
    // Free text goes as typed; an empty prompt does not send, and says why.
    press(&mut a, c('t'));
    assert_eq!(press(&mut a, k(KeyCode::Enter)), []);
    let Some(Modal::Prompt(p)) = a.modal() else {
        panic!("the prompt closed")
    };
    assert!(p.error.as_deref().unwrap_or("").contains("type a number"));
    typed(&mut a, "0207946000");
    let r = sent(press(&mut a, k(KeyCode::Enter)));
    assert_eq!(
        r.command,
        Command::Transfer {
            on: harbour,
            target: Text::from("0207946000")
        }
    );
    // Esc cancels: nothing is sent.
    press(&mut a, c('t'));
    typed(&mut a, "4103");
    assert_eq!(press(&mut a, k(KeyCode::Esc)), []);
    assert!(a.modal().is_none());
    assert!(status(&a).contains("transfer cancelled"), "{}", status(&a));
}

#[test]
fn a_waiting_call_takes_the_queue_functions_and_refuses_the_others_saying_why() {
    let (mut site, mut a) = screen();
    let harbour = id(&a, LineId::Queue(guid(CLAIMS)), 51);

    press(&mut a, c('r'));
    typed(&mut a, "4106");
    let r = sent(press(&mut a, k(KeyCode::Enter)));
    assert_eq!(
        r.command,
        Command::Redirect {
            on: harbour,
            target: "4106".into()
        }
    );

    // Park suggests the lowest free slot (1 holds Pennine Tiles); typing replaces it.
    press(&mut a, c('p'));
    let Some(Modal::Prompt(p)) = a.modal() else {
        panic!("no park prompt")
    };
    assert_eq!(p.shown(), "2");
    let r = sent(press(&mut a, k(KeyCode::Enter)));
    assert_eq!(
        r.command,
        Command::Park {
            on: harbour,
            slot: "2".into()
        }
    );
    press(&mut a, c('p'));
    typed(&mut a, "7");
    let r = sent(press(&mut a, k(KeyCode::Enter)));
    assert_eq!(
        r.command,
        Command::Park {
            on: harbour,
            slot: "7".into()
        }
    );

    // Priority: a 1-3 picker, the current one (2) picked first.
    press(&mut a, c('P'));
    let Some(Modal::Prompt(p)) = a.modal() else {
        panic!("no priority picker")
    };
    assert_eq!(p.shown(), "2");
    typed(&mut a, "3");
    let r = sent(press(&mut a, k(KeyCode::Enter)));
    assert_eq!(
        r.command,
        Command::Priority {
            on: harbour,
            priority: Priority::High
        }
    );
    // Sending the priority it already has is refused by the model, and the prompt says so.
    press(&mut a, c('P'));
    assert_eq!(press(&mut a, k(KeyCode::Enter)), []);
    let Some(Modal::Prompt(p)) = a.modal() else {
        panic!("the picker closed")
    };
    assert!(
        p.error
            .as_deref()
            .unwrap_or("")
            .contains("already has priority 2"),
        "{p:?}"
    );
    press(&mut a, k(KeyCode::Esc));

    press(&mut a, c('T'));
    typed(&mut a, "vip");
    let r = sent(press(&mut a, k(KeyCode::Enter)));
    assert_eq!(
        r.command,
        Command::Tag {
            on: harbour,
            tag: "vip".into()
        }
    );

    // Account codes: free text while the PBX's list is unknown, a picker once it is known.
    press(&mut a, c('A'));
    typed(&mut a, "999");
    let r = sent(press(&mut a, k(KeyCode::Enter)));
    assert_eq!(
        r.command,
        Command::AccountCode {
            on: harbour,
            code: "999".into()
        }
    );
    site.model.set_account_codes(AccountCodes::List {
        codes: vec!["1001".into(), "2002".into()],
    });
    feed(&mut a, &mut site);
    press(&mut a, c('A'));
    typed(&mut a, "9");
    assert_eq!(press(&mut a, k(KeyCode::Enter)), []);
    press(&mut a, k(KeyCode::Backspace));
    typed(&mut a, "2");
    let r = sent(press(&mut a, k(KeyCode::Enter)));
    assert_eq!(
        r.command,
        Command::AccountCode {
            on: harbour,
            code: "2002".into()
        }
    );

    // Not on a queue's call: each key says why, nothing is sent, no prompt opens.
    for (key, why) in [
        ('u', "unpark works on a parked call"),
        ('b', "barge works on an agent's connected call"),
        ('g', "pick up needs a ringing call"),
        ('a', "nothing rings on your own line"),
        ('H', "no call on your own line"),
        ('n', "DND is set on an agent"),
        ('m', "members are enabled and disabled in a queue's detail"),
    ] {
        assert_eq!(press(&mut a, c(key)), [], "{key}");
        assert!(a.modal().is_none(), "{key}");
        assert!(status(&a).contains(why), "{key}: {}", status(&a));
    }
    // F is not even a key unless force clear is allowed.
    assert_eq!(press(&mut a, c('F')), []);
    assert!(a.modal().is_none());
    assert_eq!(a.config().keymap.action(Context::Main, c('F')), None);
}

#[test]
fn drop_asks_and_only_y_confirms() {
    let (_site, mut a) = screen();
    let harbour = id(&a, LineId::Queue(guid(CLAIMS)), 51);
    press(&mut a, c('d'));
    assert_eq!(a.context(), Context::Confirm);
    let text = render(&a);
    assert!(
        text.contains("Drop the call (waiting 02:41) from 02079460958 Harbour Freight Ltd?"),
        "{text}"
    );
    assert!(
        text.contains("y drop · any other key cancels (Enter too)"),
        "{text}"
    );
    assert_eq!(press(&mut a, k(KeyCode::Esc)), []);
    // Enter never confirms; nor does any other key.
    for key in [
        k(KeyCode::Enter),
        c('n'),
        c('Y'),
        c('d'),
        k(KeyCode::Esc),
        c('q'),
        Key::ctrl('c'),
    ] {
        press(&mut a, c('d'));
        assert_eq!(a.context(), Context::Confirm);
        assert_eq!(press(&mut a, key), [], "{key:?}");
        assert!(a.modal().is_none(), "{key:?}");
        assert!(status(&a).contains("drop cancelled"), "{key:?}");
    }
    press(&mut a, c('d'));
    let r = sent(press(&mut a, c('y')));
    assert_eq!(r.command, Command::Drop { on: harbour });
    assert_eq!(r.audit.action, "DropCall");
}

#[test]
fn force_clear_exists_only_when_allowed_and_asks_too() {
    let (site, evs) = busy_site();
    let mut a = with_config(&site, |c| c.keymap = Keymap::with_force_clear());
    a.update(Event::Model(evs));
    a.update(Event::Tick {
        now: site.now(),
        clock: None,
    });
    let harbour = id(&a, LineId::Queue(guid(CLAIMS)), 51);
    assert!(render(&a).contains("F force clear"));
    press(&mut a, c('F'));
    assert!(render(&a).contains("FORCE CLEAR the call (waiting 02:41) from 02079460958"));
    assert_eq!(press(&mut a, k(KeyCode::Enter)), []);
    press(&mut a, c('F'));
    let r = sent(press(&mut a, c('y')));
    assert_eq!(r.command, Command::ForceClear { on: harbour });

    // Without it, F is in neither the keymap, the help nor the hints.
    let (_site, mut b) = screen();
    assert!(!render(&b).contains("force clear"));
    press(&mut b, c('?'));
    for _ in 0..200 {
        assert!(!render(&b).contains("force clear"));
        press(&mut b, k(KeyCode::PageDown));
    }
    assert!(
        Keymap::default()
            .bindings()
            .iter()
            .all(|b| b.action != KeyAction::Function(Function::ForceClear))
    );
}

#[test]
fn an_agents_row_acts_on_the_call_it_shows() {
    let (_site, mut a) = screen();
    // 4102 talks (DROP HOLD BLINDXFER PARK).
    select_agent(&mut a, "4102");
    let talk = id(&a, LineId::User(guid(2)), 56);
    press(&mut a, c('t'));
    typed(&mut a, "4106");
    let r = sent(press(&mut a, k(KeyCode::Enter)));
    assert_eq!(
        r.command,
        Command::Transfer {
            on: talk,
            target: "4106".into()
        }
    );
    assert_eq!(r.audit.appearance.kind, "agent");
    assert_eq!(r.audit.appearance.extn, "4102");
    // Barge: the supervisor's phone intrudes on the agent's connected call.
    let r = sent(press(&mut a, c('b')));
    assert_eq!(r.command, Command::Barge { on: talk });
    assert_eq!(r.audit.action, "MakeCall intrude (106)");
    assert_eq!(r.audit.argument, "4102");
    // Its feature bits allow no tag and no priority on an agent's call.
    press(&mut a, c('T'));
    assert!(
        status(&a).contains("does not offer SetTag"),
        "{}",
        status(&a)
    );
    press(&mut a, c('P'));
    assert!(
        status(&a).contains("priority is set on a queued call"),
        "{}",
        status(&a)
    );
    press(&mut a, c('g'));
    assert!(
        status(&a).contains("pick up needs a ringing call"),
        "{}",
        status(&a)
    );
    // DND asks first.
    press(&mut a, c('n'));
    assert!(render(&a).contains("Turn do not disturb ON for 4102 Nakashima?"));
    assert_eq!(press(&mut a, k(KeyCode::Enter)), []);
    press(&mut a, c('n'));
    let r = sent(press(&mut a, c('y')));
    assert_eq!(
        r.command,
        Command::Dnd {
            user: guid(2),
            on: true
        }
    );

    // 4103's call rings: pick up (MakeCall 108 to 4103) and redirect.
    select_agent(&mut a, "4103");
    let ring = id(&a, LineId::User(guid(3)), 55);
    let r = sent(press(&mut a, c('g')));
    assert_eq!(r.command, Command::Pickup { on: ring });
    assert_eq!(r.audit.argument, "4103");
    assert!(r.words.ends_with("ringing at 4103"), "{}", r.words);
    press(&mut a, c('r'));
    typed(&mut a, "4106");
    let r = sent(press(&mut a, k(KeyCode::Enter)));
    assert_eq!(
        r.command,
        Command::Redirect {
            on: ring,
            target: "4106".into()
        }
    );
    press(&mut a, c('b'));
    assert!(
        status(&a).contains("barge needs a connected call"),
        "{}",
        status(&a)
    );

    // An agent without a call.
    select_agent(&mut a, "4106");
    press(&mut a, c('t'));
    assert!(
        status(&a).contains("this agent has no call"),
        "{}",
        status(&a)
    );
}

#[test]
fn with_several_calls_the_ringing_one_comes_first_and_the_detail_picks() {
    let (mut site, evs) = busy_site();
    let mut a = app(&site, evs, 160, 48, Theme::colour());
    // 4102 talks, and a second call now rings.
    let second = site.agent_call(
        2,
        2,
        CallSnapshot {
            state: CallState::Ringing,
            direction: Direction::Inbound,
            gcid: gcid(70),
            features: CallFeatureBits(0x23),
            calling: Some(party("07700900999", "Second Caller")),
            ..CallSnapshot::default()
        },
    );
    feed(&mut a, &mut site);
    select_agent(&mut a, "4102");
    let ringing = id(&a, LineId::User(guid(2)), second);
    let talking = id(&a, LineId::User(guid(2)), 56);
    assert_eq!(press(&mut a, c('d')), []);
    let r = sent(press(&mut a, c('y')));
    assert_eq!(r.command, Command::Drop { on: ringing });
    // In the agent's detail, j picks the next call; functions act on the pick.
    press(&mut a, k(KeyCode::Enter));
    assert!(render(&a).contains("▶ Call 1 of 2 · RINGING"));
    press(&mut a, c('j'));
    assert!(render(&a).contains("▶ Call 2 of 2 · CONNECTED"));
    let r = sent(press(&mut a, c('b')));
    assert_eq!(r.command, Command::Barge { on: talking });
}

#[test]
fn a_parked_call_unparks_to_the_supervisor() {
    let (_site, mut a) = screen();
    select_parked(&mut a);
    let parked = id(&a, LineId::ParkServer, 900);
    let r = sent(press(&mut a, c('u')));
    assert_eq!(r.command, Command::Unpark { parked });
    assert_eq!(r.audit.action, "UnParkCall");
    assert_eq!(r.audit.appearance.kind, "park");
    assert_eq!(r.words, "unparking 01614960000 from slot 1 to your phone");
    press(&mut a, c('t'));
    typed(&mut a, "4106");
    let r = sent(press(&mut a, k(KeyCode::Enter)));
    assert_eq!(
        r.command,
        Command::Transfer {
            on: parked,
            target: "4106".into()
        }
    );
    press(&mut a, c('p'));
    assert!(
        status(&a).contains("not allow it on a parked call"),
        "{}",
        status(&a)
    );
    press(&mut a, c('P'));
    assert!(status(&a).contains("priority is set on a queued call"));
    press(&mut a, c('d'));
    let r = sent(press(&mut a, c('y')));
    assert_eq!(r.command, Command::Drop { on: parked });
}

#[test]
fn unpark_barge_and_pickup_need_the_supervisors_extension() {
    let (site, evs) = busy_site();
    let mut a = with_config(&site, |c| c.supervisor = None);
    a.update(Event::Model(evs));
    select_parked(&mut a);
    assert_eq!(press(&mut a, c('u')), []);
    assert!(
        status(&a).contains("set [supervisor] extension"),
        "{}",
        status(&a)
    );
    select_agent(&mut a, "4102");
    assert_eq!(press(&mut a, c('b')), []);
    assert!(status(&a).contains("set [supervisor] extension"));
    assert!(!render(&a).contains("My line"));
}

#[test]
fn answer_and_hold_act_only_on_my_line() {
    let (mut site, evs) = busy_site();
    let mut a = app(&site, evs, 160, 48, Theme::colour());
    // Nothing on the supervisor's line: a and H say so, whatever is selected.
    select_agent(&mut a, "4103");
    press(&mut a, c('a'));
    assert!(
        status(&a).contains("never on an agent's phone"),
        "{}",
        status(&a)
    );
    let ring = site.agent_call(
        3,
        90,
        CallSnapshot {
            state: CallState::Ringing,
            direction: Direction::Inbound,
            gcid: gcid(80),
            // DROP ANSWER
            features: CallFeatureBits(0x3),
            calling: Some(party("02079460123", "Bramley & Sons")),
            ..CallSnapshot::default()
        },
    );
    feed(&mut a, &mut site);
    let text = render(&a);
    assert!(
        text.contains("My line 4190 Supervisor  RING 00:03 02079460123 Bramley & Sons"),
        "{text}"
    );
    assert!(text.contains("a answer"), "{text}");
    let on = id(&a, LineId::User(guid(90)), ring);
    let r = sent(press(&mut a, c('a')));
    assert_eq!(r.command, Command::Answer { on });
    assert_eq!(r.audit.appearance.kind, "supervisor");

    // Answered: H holds it; held: H takes it off hold.
    let key = AppearanceKey {
        line: LineId::User(guid(90)),
        callid: ring,
    };
    let mut snap = site
        .model
        .appearance_at(&key)
        .map(|a| a.call.clone())
        .expect("the supervisor's call");
    snap.state = CallState::Connected;
    snap.features = CallFeatureBits(0x5); // DROP HOLD
    site.model
        .call_info(site.now(), LineId::User(guid(90)), snap.clone());
    feed(&mut a, &mut site);
    let r = sent(press(&mut a, c('H')));
    assert_eq!(r.command, Command::Hold { on });
    snap.state = CallState::OnHold;
    snap.features = CallFeatureBits(0x9); // DROP UNHOLD
    site.model
        .call_info(site.now(), LineId::User(guid(90)), snap);
    feed(&mut a, &mut site);
    assert!(render(&a).contains("H unhold"));
    let r = sent(press(&mut a, c('H')));
    assert_eq!(r.command, Command::Unhold { on });
}

#[test]
fn service_mode_asks_y_for_night_and_a_typed_oos_for_out_of_service() {
    let (_site, mut a) = screen();
    press(&mut a, k(KeyCode::BackTab));
    assert_eq!(a.focus(), Pane::Queues);
    // Claims Desk is Active: the picker offers the other two.
    press(&mut a, c('s'));
    let text = render(&a);
    assert!(text.contains("Service mode for Claims Desk:"), "{text}");
    assert!(text.contains("Night service · Out of service"), "{text}");
    let r = press(&mut a, k(KeyCode::Enter));
    assert_eq!(r, []);
    assert_eq!(a.context(), Context::Confirm);
    assert!(render(&a).contains("Put queue Claims Desk in NIGHT SERVICE?"));
    assert_eq!(press(&mut a, k(KeyCode::Enter)), []);
    assert!(a.modal().is_none());
    press(&mut a, c('s'));
    press(&mut a, k(KeyCode::Enter));
    let r = sent(press(&mut a, c('y')));
    assert_eq!(
        r.command,
        Command::ServiceMode {
            queue: guid(CLAIMS),
            mode: ServiceMode::NightService
        }
    );
    assert_eq!(r.audit.action, "SetServiceMode");

    // Out of service: typed OOS and Enter; y is just a letter there, and anything else
    // cancels.
    for (typing, confirms) in [("OOS", true), ("oos", false), ("y", false), ("", false)] {
        press(&mut a, c('s'));
        typed(&mut a, "out");
        press(&mut a, k(KeyCode::Enter));
        assert_eq!(a.context(), Context::Prompt, "{typing}");
        let text = render(&a);
        assert!(
            text.contains("Put queue Claims Desk OUT OF SERVICE? Callers will be diverted."),
            "{text}"
        );
        typed(&mut a, typing);
        let actions = press(&mut a, k(KeyCode::Enter));
        if confirms {
            let r = sent(actions);
            assert_eq!(
                r.command,
                Command::ServiceMode {
                    queue: guid(CLAIMS),
                    mode: ServiceMode::OutOfService
                }
            );
        } else {
            assert_eq!(actions, [], "{typing}");
            assert!(status(&a).contains("cancelled"), "{typing}");
        }
        assert!(a.modal().is_none());
    }
}

#[test]
fn members_are_enabled_and_disabled_in_the_queue_detail() {
    let (_site, mut a) = screen();
    press(&mut a, k(KeyCode::BackTab));
    press(&mut a, k(KeyCode::Enter));
    assert!(matches!(a.overlay(), Overlay::Detail { .. }));
    // The first member, 4101, is enabled: m disables it.
    let r = sent(press(&mut a, c('m')));
    assert_eq!(
        r.command,
        Command::Member {
            queue: guid(CLAIMS),
            extn: "4101".into(),
            enabled: false
        }
    );
    assert_eq!(r.words, "disabling 4101 Achterberg in Claims Desk");
    // Down to 4112, disabled in the fixture: m enables it.
    for _ in 0..6 {
        press(&mut a, c('j'));
    }
    assert!(render(&a).contains("▶ 4112"));
    let r = sent(press(&mut a, c('m')));
    assert_eq!(
        r.command,
        Command::Member {
            queue: guid(CLAIMS),
            extn: "4112".into(),
            enabled: true
        }
    );
}

#[test]
fn an_open_prompt_is_cancelled_when_its_call_ends_or_loses_the_bit() {
    let (mut site, mut a) = screen();
    press(&mut a, c('t'));
    typed(&mut a, "41");
    site.model.call_lost(
        site.now(),
        LineId::Queue(guid(CLAIMS)),
        CallLost {
            callid: 51,
            cause: 16,
            description: "caller hung up".into(),
            ..CallLost::default()
        },
    );
    feed(&mut a, &mut site);
    assert!(a.modal().is_none());
    assert_eq!(
        status(&a),
        "transfer cancelled: the call from 02079460958 Harbour Freight Ltd ended (caller hung up); \
         nothing sent"
    );
    assert_eq!(a.update(Event::Key(k(KeyCode::Enter))), []);

    // The next call loses BlindTransfer while its prompt is open.
    let key = AppearanceKey {
        line: LineId::Queue(guid(CLAIMS)),
        callid: 52,
    };
    let sel = a.selection().call;
    assert_eq!(sel, Some(id(&a, LineId::Queue(guid(CLAIMS)), 52)));
    press(&mut a, c('t'));
    let mut snap = site
        .model
        .appearance_at(&key)
        .map(|a| a.call.clone())
        .expect("call 52");
    snap.features = CallFeatureBits(0x1); // DROP only
    site.model
        .call_info(site.now(), LineId::Queue(guid(CLAIMS)), snap);
    feed(&mut a, &mut site);
    assert!(a.modal().is_none());
    assert!(
        status(&a).contains("transfer cancelled: the PBX does not offer BlindTransfer"),
        "{}",
        status(&a)
    );
    // And its key is dimmed now, with the reason on a press.
    press(&mut a, c('t'));
    assert!(a.modal().is_none());
    assert!(status(&a).contains("can't transfer"));
}

#[test]
fn nothing_is_sent_while_disconnected() {
    let (mut site, mut a) = screen();
    press(&mut a, c('d'));
    site.model.set_connection(ConnectionState::Reconnecting {
        at: site.at(7300),
        retry_in_ms: 5000,
        reason: "closed".into(),
    });
    feed(&mut a, &mut site);
    assert_eq!(press(&mut a, c('y')), []);
    assert!(
        status(&a).contains("not connected to the PBX"),
        "{}",
        status(&a)
    );
    for key in ['t', 'd', 'p', 's', 'n', 'u', 'b'] {
        assert_eq!(press(&mut a, c(key)), [], "{key}");
        assert!(a.modal().is_none(), "{key}");
        assert!(status(&a).contains("not connected"), "{key}");
    }
}

#[test]
fn read_only_hides_and_blocks_every_function() {
    let (site, evs) = busy_site();
    let mut a = with_config(&site, |c| c.read_only = true);
    a.update(Event::Model(evs));
    a.update(Event::Tick {
        now: site.now(),
        clock: None,
    });
    let text = render(&a);
    for hint in ["t transfer", "p park", "d drop", "s mode", "a answer"] {
        assert!(!text.contains(hint), "{hint}:\n{text}");
    }
    let every: Vec<Key> = a
        .config()
        .keymap
        .bindings()
        .iter()
        .filter(|b| b.action.is_function())
        .flat_map(|b| b.keys.clone())
        .collect();
    assert!(every.len() >= 15);
    for pane in 0..4 {
        for key in &every {
            assert_eq!(press(&mut a, *key), [], "{key:?} in pane {pane}");
            assert!(a.modal().is_none());
            assert!(status(&a).starts_with("read-only"), "{}", status(&a));
        }
        press(&mut a, k(KeyCode::Tab));
    }
    press(&mut a, c('?'));
    let help = render(&a);
    assert!(!help.contains("transfer the selected call"), "{help}");
}

#[test]
fn outcomes_go_to_the_status_line_and_the_history() {
    let (_site, mut a) = screen();
    press(&mut a, c('t'));
    typed(&mut a, "4103");
    let r = sent(press(&mut a, k(KeyCode::Enter)));
    let ticket = r.ticket;
    let words = "transferring 02079460958 to 4103";
    for (st, level, text) in [
        (CommandStatus::Sent, Level::Info, format!("{words} …")),
        (
            CommandStatus::Accepted,
            Level::Info,
            format!("{words} … accepted"),
        ),
        (
            CommandStatus::Done {
                effect: "the call went to 4103".into(),
            },
            Level::Done,
            format!("{words} … done: the call went to 4103"),
        ),
    ] {
        a.update(Event::Outcome { ticket, status: st });
        let m = a.status().cloned().expect("a status");
        assert_eq!((m.level, m.text), (level, text));
    }
    // One line per function in the history, updated in place.
    let lines: Vec<String> = a.history().map(|e| e.message.text.clone()).collect();
    assert_eq!(
        lines.iter().filter(|l| l.starts_with(words)).count(),
        1,
        "{lines:?}"
    );
    // A failure shows the document's name and meaning.
    press(&mut a, c('d'));
    let r = sent(press(&mut a, c('y')));
    a.update(Event::Outcome {
        ticket: r.ticket,
        status: CommandStatus::Failed {
            code: 611,
            name: "MTCTISESS_CALLCONTROL_NOCOVERAGE".into(),
            meaning: "You cant Drop a ringing call if there is no coverage destination.".into(),
        },
    });
    let m = a.status().cloned().expect("a status");
    assert_eq!(m.level, Level::Error);
    assert!(
        m.text
            .contains("refused by the PBX: MTCTISESS_CALLCONTROL_NOCOVERAGE (611)"),
        "{}",
        m.text
    );
    // M shows them, newest first.
    press(&mut a, c('M'));
    assert_eq!(a.context(), Context::Messages);
    let text = render(&a);
    let drop_at = text.find("dropping").expect("the drop");
    let transfer_at = text
        .find("done: the call went to 4103")
        .expect("the transfer");
    assert!(drop_at < transfer_at, "{text}");
    press(&mut a, c('M'));
    assert_eq!(*a.overlay(), Overlay::None);
}

#[test]
fn a_roadside_call_ringing_an_agent_can_be_picked_up_from_the_queue() {
    let (_site, mut a) = screen();
    // Queues -> Roadside -> its waiting call, which rings 4103.
    press(&mut a, k(KeyCode::BackTab));
    press(&mut a, c('j'));
    press(&mut a, k(KeyCode::Tab));
    let call = id(&a, LineId::Queue(guid(ROADSIDE)), 54);
    assert_eq!(a.selection().call, Some(call));
    let r = sent(press(&mut a, c('g')));
    assert_eq!(r.command, Command::Pickup { on: call });
    assert_eq!(r.audit.argument, "4103");
}

#[test]
fn function_keys_are_in_the_keymap_and_can_be_changed_but_not_bound_twice() {
    let map = Keymap::with_overrides([("transfer", ["x"])]).expect("x is free");
    for ctx in [Context::Main, Context::Detail] {
        assert_eq!(
            map.action(ctx, c('x')),
            Some(KeyAction::Function(Function::Transfer))
        );
        assert_eq!(map.action(ctx, c('t')), None);
    }
    let (site, evs) = busy_site();
    let mut a = with_config(&site, |c| c.keymap = map);
    a.update(Event::Model(evs));
    assert!(render(&a).contains("x transfer"));
    press(&mut a, c('x'));
    assert_eq!(a.context(), Context::Prompt);

    match Keymap::with_overrides([("transfer", ["d"])]) {
        Err(ipo_top::ui::KeymapError::DoubleBinding { first, second, .. }) => {
            assert_eq!((first, second), ("transfer", "drop"));
        }
        other => panic!("expected a double binding, got {other:?}"),
    }
}

#[test]
fn a_command_chosen_elsewhere_is_described_from_this_model_as_the_screen_would() {
    use ipo_top::ui::functions::describe;
    let (_site, mut a) = screen();
    let harbour = id(&a, LineId::Queue(guid(CLAIMS)), 51);
    press(&mut a, c('t'));
    typed(&mut a, "4103");
    let r = sent(press(&mut a, k(KeyCode::Enter)));
    // The serving side describes a viewer's command from its own model: the same words and
    // audit record the viewer's screen made, nothing taken from the viewer.
    let d = describe(a.model(), Some("4190"), &r.command).expect("described");
    assert_eq!((d.command, d.words, d.audit), (r.command, r.words, r.audit));
    select_parked(&mut a);
    let parked = id(&a, LineId::ParkServer, 900);
    let r = sent(press(&mut a, c('u')));
    let d = describe(a.model(), Some("4190"), &r.command).expect("described");
    assert_eq!((d.words, d.audit), (r.words, r.audit));
    // Barge and unpark need the asker's My line; without one they are refused.
    let e = describe(a.model(), None, &Command::Unpark { parked }).unwrap_err();
    assert!(e.why.contains("set [supervisor] extension"), "{}", e.why);
    // A command the model would make differently now (a DND already off asked off: the model
    // toggles it on) is refused, not changed into something else.
    let agent = a.model().user_by_extn("4102").expect("4102").clone();
    let on = agent.dnd();
    let e = describe(
        a.model(),
        Some("4190"),
        &Command::Dnd {
            user: agent.guid.clone(),
            on: !on,
        },
    )
    .map(|d| d.command);
    assert_eq!(
        e,
        Ok(Command::Dnd {
            user: agent.guid.clone(),
            on: !on
        })
    );
    // Asked to enable a member who is already enabled: the model would disable it, which is
    // not what was asked, so nothing is described and nothing would be sent.
    let claims = a.model().queue(&guid(CLAIMS)).expect("claims").clone();
    let m = claims.members().first().expect("a member").clone();
    let asked = Command::Member {
        queue: claims.guid.clone(),
        extn: m.extn.clone(),
        enabled: m.enabled,
    };
    let e = describe(a.model(), Some("4190"), &asked).unwrap_err();
    assert!(e.why.contains("choose again"), "{}", e.why);
    let harbour_hold = describe(a.model(), Some("4190"), &Command::Unhold { on: harbour });
    assert!(harbour_hold.is_err(), "{harbour_hold:?}");
}
