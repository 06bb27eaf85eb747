//! The values a presence subscription reports (`NotifyPresentity`).

/// `NotifyPresentity.phonestate` (the document's table 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PhoneState {
    /// 0.
    #[default]
    Idle,
    /// 1.
    Dialling,
    /// 2.
    Ringing,
    /// 3: after-call work.
    Acw,
    /// 4.
    Connected,
    /// 5: logged off.
    Logout,
    /// 6: extension fault.
    Fault,
    /// 7: recovering from a fault.
    Recover,
    /// 8: IP Office does not know the state, or the presentity names no user.
    Unknown,
}

impl PhoneState {
    /// The number on the wire.
    pub fn to_wire(self) -> i32 {
        match self {
            PhoneState::Idle => 0,
            PhoneState::Dialling => 1,
            PhoneState::Ringing => 2,
            PhoneState::Acw => 3,
            PhoneState::Connected => 4,
            PhoneState::Logout => 5,
            PhoneState::Fault => 6,
            PhoneState::Recover => 7,
            PhoneState::Unknown => 8,
        }
    }
}
