//! The document's result codes (`RequestResponse.result`), with its names and meanings.

use std::fmt;

macro_rules! result_codes {
    ( $( $(#[$m:meta])* $variant:ident = $code:literal, $name:literal, $meaning:literal; )* ) => {
        /// A `RequestResponse.result`. Codes the document does not list are kept as their number.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ResultCode {
            $( $(#[$m])* $variant, )*
            /// A code the document does not list.
            Other(i32),
        }

        impl ResultCode {
            /// Every code the document lists.
            pub const ALL: &'static [ResultCode] = &[ $( ResultCode::$variant ),* ];

            /// The code from the wire.
            pub const fn from_code(code: i32) -> Self {
                match code {
                    $( $code => ResultCode::$variant, )*
                    other => ResultCode::Other(other),
                }
            }

            /// The number on the wire.
            pub const fn code(self) -> i32 {
                match self {
                    $( ResultCode::$variant => $code, )*
                    ResultCode::Other(c) => c,
                }
            }

            /// The document's name, e.g. `MTCTISESS_TOOMANY`; `None` for a code it does not list.
            pub const fn name(self) -> Option<&'static str> {
                match self {
                    $( ResultCode::$variant => Some($name), )*
                    ResultCode::Other(_) => None,
                }
            }

            /// The document's meaning where it gives one, else its name; `None` for a code it
            /// does not list.
            pub const fn meaning(self) -> Option<&'static str> {
                match self {
                    $( ResultCode::$variant => Some($meaning), )*
                    ResultCode::Other(_) => None,
                }
            }
        }
    };
}

result_codes! {
    /// 0.
    Success = 0, "MTCTISESS_SUCCESS", "Success";
    /// 1.
    ErrUnknown = 1, "MTCTISESS_ERRUNKNOWN", "Unknown error";
    /// 2.
    UnpackErr = 2, "MTCTISESS_UNPACKERR", "Message unpack error";
    /// 3.
    NotInstrumented = 3, "MTCTISESS_NOTINSTRUMENTED", "Not instrumented";
    /// 4: e.g. DropCall on an unknown callid, or an unknown queue.
    NotFound = 4, "MTCTISESS_NOTFOUND", "Not found";
    /// 5: too many outstanding requests or subscriptions; retry later.
    TooMany = 5, "MTCTISESS_TOOMANY", "Too many";
    /// 6.
    TooBig = 6, "MTCTISESS_TOOBIG", "MTCTISESS_TOOBIG";
    /// 7: the user guid is not known.
    UserNotFound = 7, "MTCTISESS_USERNOTFOUND", "MTCTISESS_USERNOTFOUND";
    /// 8.
    ServiceNotAvailable = 8, "MTCTISESS_SERVICE_NOT_AVAILABLE", "MTCTISESS_SERVICE_NOT_AVAILABLE";
    /// 9.
    NotAllowed = 9, "MTCTISESS_NOTALLOWED", "MTCTISESS_NOTALLOWED";
    /// 100.
    SubscriptionInvalid = 100, "MTCTISESS_SUBSCRIPTION_INVALID", "Not a recognized subscription";
    /// 101.
    SubscriptionInvalidId = 101, "MTCTISESS_SUBSCRIPTION_INVALID_ID", "Subscription Update with invalid ID";
    /// 102: presence subscriptions need a timeout of 60..86400 s.
    SubscriptionTimeoutTooSmall = 102, "MTCTISESS_SUBSCRIPTION_TIMEOUT_TOO_SMALL", "MTCTISESS_SUBSCRIPTION_TIMEOUT_TOO_SMALL";
    /// 150.
    GenCmdErrUnknown = 150, "MTCTISESS_GENCMD_ERRUNKNOWN", "General Command Error";
    /// 151.
    GenCmdInvalidPayload = 151, "MTCTISESS_GENCMD_INVALID_PAYLOAD", "General Command badly formatted";
    /// 152.
    GenCmdRequiredDataMissing = 152, "MTCTISESS_GENCMD_REQUIRED_DATA_MISSING", "General Command with mandatory element missing";
    /// 500.
    PresenceErrUnknown = 500, "MTCTISESS_PRESENCE_ERRUNKNOWN", "Any error to do with presence subscription";
    /// 5000.
    RequestFailed = 5000, "MTCTISESS_REQUESTFAILED", "A valid command has failed";
    /// 5001.
    RequestTimeout = 5001, "MTCTISESS_REQUESTTIMEOUT", "A valid command has taken too long to create a response";
    /// 5002.
    RequestInvalidPayload = 5002, "MTCTISESS_REQUEST_INVALID_PAYLOAD", "Missing or field out of range";
    /// 5003.
    RequestInvalidContext = 5003, "MTCTISESS_REQUEST_INVALID_CONTEXT", "Can find context for this action";
    /// 600.
    NoPhone = 600, "MTCTISESS_CALLCONTROL_NOPHONE", "Cant make a call, or unpark a call because the user is not logged in to any handset";
    /// 601.
    ExtnFault = 601, "MTCTISESS_CALLCONTROL_EXTNFAULT", "Cant Make a call because the user's phone is not connected";
    /// 602.
    CallNotFound = 602, "MTCTISESS_CALLCONTROL_CALLNOTFOUND", "Can perform action on this call, because the call cannot be found";
    /// 603.
    MaxCalls = 603, "MTCTISESS_CALLCONTROL_MAXCALLS", "Cant Make a call because the user has no more call appearances";
    /// 604.
    BadAcct = 604, "MTCTISESS_CALLCONTROL_BADACCT", "The account code entered is not valid";
    /// 605.
    BadAuth = 605, "MTCTISESS_CALLCONTROL_BADAUTH", "The authorization code is not valid";
    /// 606.
    TargetNotFound = 606, "MTCTISESS_CALLCONTROL_TARGETNOTFOUND", "Typically for UnPark, or AddToConference, cannot find the thing you are targeting";
    /// 607.
    Permission = 607, "MTCTISESS_CALLCONTROL_PERMISSION", "You do not have permission to perform this action";
    /// 608.
    BadFormatting = 608, "MTCTISESS_CALLCONTROL_BADFORMATTING", "One of the fields is missing or string is too long or number is out of range";
    /// 609.
    InvalidCallState = 609, "MTCTISESS_CALLCONTROL_INVALIDCALLSTATE", "You can't do this action at this time";
    /// 610.
    CantBeDone = 610, "MTCTISESS_CALLCONTROL_CANTBEDONE", "Typically you cannot answer the call on this phone because you need to physically pick up the handset";
    /// 611.
    NoCoverage = 611, "MTCTISESS_CALLCONTROL_NOCOVERAGE", "You cant Drop a ringing call if there is no coverage destination";
    /// 612.
    TransferFailed = 612, "MTCTISESS_CALLCONTROL_TRANSFERFAILED", "The blind transfer target is invalid or refused the call";
    /// 613.
    ParkFailed = 613, "MTCTISESS_CALLCONTROL_PARKFAILED", "Could not park this call";
    /// 614.
    OtherNotFound = 614, "MTCTISESS_CALLCONTROL_OTHERNOTFOUND", "Trying to CompleteTransfer or CompleteConf with invalid related calls";
    /// 615.
    CantComplete = 615, "MTCTISESS_CALLCONTROL_CANTCOMPLETE", "TransferComplete not allowed, maybe because of the nature of the calls you are trying to join";
    /// 616.
    Unsupported = 616, "MTCTISESS_CALLCONTROL_UNSUPPORTED", "Not a supported function";
    /// 617.
    AlreadyDone = 617, "MTCTISESS_CALLCONTROL_ALREADYDONE", "The command would have no effect";
}

impl ResultCode {
    /// Whether this is `MTCTISESS_SUCCESS`.
    pub const fn is_success(self) -> bool {
        matches!(self, ResultCode::Success)
    }
}

impl From<i32> for ResultCode {
    fn from(code: i32) -> Self {
        ResultCode::from_code(code)
    }
}

impl fmt::Display for ResultCode {
    /// `MTCTISESS_TOOMANY (5): Too many`; an unlisted code shows as `result 4242 (not in the
    /// MTCTI3 document)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.name(), self.meaning()) {
            (Some(name), Some(meaning)) if meaning != name => {
                write!(f, "{name} ({}): {meaning}", self.code())
            }
            (Some(name), _) => write!(f, "{name} ({})", self.code()),
            _ => write!(f, "result {} (not in the MTCTI3 document)", self.code()),
        }
    }
}
