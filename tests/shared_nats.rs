//! The test harness's nats-server: found, started on a free port with JetStream, stopped and
//! started again on the same port.

mod nats_support;

use nats_support::Nats;

#[test]
fn the_server_starts_on_a_free_port_and_restarts_on_the_same_one() {
    let mut n = Nats::start();
    assert_ne!(n.port, 0);
    assert!(std::net::TcpStream::connect(("127.0.0.1", n.port)).is_ok());
    let port = n.port;
    n.stop();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    n.restart();
    assert_eq!(n.port, port);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
}
