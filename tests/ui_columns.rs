//! Columns that fit: with long queue, agent and caller names (30 characters, CJK, combining
//! marks) at 80x24, 120x40 and 200x60, every table's columns are as wide as their widest
//! value, and no name is cut while the pane it is in has spare width.

mod ui_fixture;

use ipo_top::model::{
    CallFeatureBits, CallSnapshot, CallState, Direction, LineEntry, LineId, QueueDetail,
    TrunkDetail, TrunkKind,
};
use ipo_top::ui::{App, Theme};
use ratatui::buffer::Buffer;
use ui_fixture::{ROADSIDE, app, buffer, busy_site, gcid, guid, party, render};

const SIZES: [(u16, u16); 3] = [(80, 24), (120, 40), (200, 60)];

/// A queue's name of 30 characters.
const LONG_QUEUE: &str = "Roadside Assistance Escalation";
/// An agent's name of 30 characters.
const LONG_AGENT: &str = "Bartholomew Featherstonehaughs";
/// A CJK agent name, two columns a character.
const CJK_AGENT: &str = "山田太郎左衛門";
/// A caller's name of 30 characters.
const LONG_CALLER: &str = "Pennine Tiles and Stoneware Co";
/// A caller's name with combining marks (each mark takes no column).
const MARKED_CALLER: &str = "Zoe\u{308} Ðe\u{301}ja\u{300} Vu\u{301} Łódź";

/// The busy site with long names: Roadside renamed, two agents renamed, and two callers
/// waiting in the renamed queue.
fn long_names() -> App {
    let (mut site, mut evs) = busy_site();
    let t = site.at(0);
    site.model.upsert_queue(LineEntry {
        guid: guid(ROADSIDE),
        extn: "7302".into(),
        name: LONG_QUEUE.into(),
    });
    for (g, extn, name) in [(3, "4103", LONG_AGENT), (2, "4102", CJK_AGENT)] {
        site.model.upsert_user(
            t,
            LineEntry {
                guid: guid(g),
                extn: extn.into(),
                name: name.into(),
            },
        );
    }
    for (callid, ago, caller) in [(900, 40, LONG_CALLER), (901, 30, MARKED_CALLER)] {
        let snap = CallSnapshot {
            callid,
            state: CallState::Queueing,
            direction: Direction::Inbound,
            gcid: gcid(callid as u16),
            features: CallFeatureBits(0x6060_E0B1),
            calling: Some(party("01632960999", caller)),
            trunk: Some(TrunkDetail {
                kind: TrunkKind::Sip,
                did: "03007302".into(),
            }),
            queue: Some(QueueDetail {
                number: "7302".into(),
                name: LONG_QUEUE.into(),
                priority: 1,
                ..QueueDetail::default()
            }),
            ..CallSnapshot::default()
        };
        let at = site.ago(ago);
        site.model
            .call_info(at, LineId::Queue(guid(ROADSIDE)), snap);
    }
    evs.extend(site.events());
    app(&site, evs, 200, 60, Theme::colour())
}

/// The screen's lines, one string per row, one char per cell (a wide character's second
/// cell is a space), so a char index is a column.
fn lines(buf: &Buffer) -> Vec<String> {
    let w = buf.area.width as usize;
    buf.content
        .chunks(w)
        .map(|r| {
            r.iter()
                .map(|c| c.symbol().chars().next().unwrap_or(' '))
                .collect()
        })
        .collect()
}

/// The panes of a line: the text between box borders (one pane when the panes are stacked).
fn panes(line: &str) -> Vec<&str> {
    line.split('│').filter(|s| !s.is_empty()).collect()
}

/// A name as [`lines`] shows it: one char a column, combining marks left out.
fn shown(name: &str) -> String {
    name.chars()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .collect()
}

/// When `pane` shows `name` cut ("Pennine Tiles and…"), how many columns of it are cut off.
fn cut_off(pane: &str, name: &str) -> Option<usize> {
    let name = shown(name);
    let chars: Vec<char> = name.chars().collect();
    (1..chars.len()).rev().find_map(|k| {
        let prefix: String = chars.get(..k)?.iter().collect();
        let prefix = prefix.trim_end();
        pane.contains(&format!("{prefix}…"))
            .then(|| chars.len() - prefix.chars().count())
    })
}

#[test]
fn long_names_are_whole_while_there_is_room() {
    for (w, h) in SIZES {
        let mut a = long_names();
        a.update(ipo_top::ui::Event::Resize {
            width: w,
            height: h,
        });
        let text = render(&a);
        // No name is cut while its pane has room: where a name is cut (…), the blank left
        // at the end of its pane's row could not have held the rest of it.
        for line in lines(&buffer(&a)) {
            for pane in panes(&line).into_iter().filter(|p| p.contains('…')) {
                for name in [LONG_QUEUE, LONG_AGENT, LONG_CALLER, MARKED_CALLER] {
                    let Some(rest) = cut_off(pane, name) else {
                        continue;
                    };
                    let blank = pane.chars().rev().take_while(|c| *c == ' ').count();
                    assert!(
                        blank + 1 < rest,
                        "{name:?} cut with room to spare at {w}x{h}:\n{pane:?}\n{text}"
                    );
                }
            }
        }
        // At 200 columns every name is whole.
        if w >= 200 {
            for name in [
                LONG_QUEUE,
                LONG_AGENT,
                CJK_AGENT,
                LONG_CALLER,
                MARKED_CALLER,
            ] {
                assert!(text.contains(name), "{name} cut at {w}x{h}:\n{text}");
            }
        }
        insta::assert_snapshot!(format!("long_names_{w}x{h}"), text);
    }
}

#[test]
fn the_widest_name_sizes_its_column_on_every_row() {
    // The queue column is as wide as the longest queue name, so the column after it starts
    // at the same place on every row, the CJK and combining names included.
    let a = long_names();
    let rows = lines(&buffer(&a));
    let starts: Vec<usize> = rows
        .iter()
        .filter_map(|r| {
            let pane = panes(r).into_iter().next()?;
            let at = pane.find(" 730")?;
            Some(pane[..at].chars().count())
        })
        .collect();
    assert_eq!(starts.len(), 3, "{rows:#?}");
    assert!(starts.windows(2).all(|p| p[0] == p[1]), "{rows:#?}");
    // The selection mark, the alert level's column, then the name.
    assert_eq!(starts.first(), Some(&(4 + LONG_QUEUE.chars().count())));
}
