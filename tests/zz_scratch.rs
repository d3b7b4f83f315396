mod support;
use support::*;
use std::time::Duration;

#[test]
fn smtp_sink_with_lettre() {
    use lettre::message::{header::ContentTransferEncoding, header::ContentType, MultiPart, SinglePart};
    use lettre::{Message, SmtpTransport, Transport};
    let sink = MailSink::start();
    let port: u16 = sink.addr().rsplit(':').next().unwrap().parse().unwrap();
    let t = SmtpTransport::builder_dangerous("127.0.0.1").port(port).build();
    let encs = [Some(ContentTransferEncoding::Base64), Some(ContentTransferEncoding::QuotedPrintable), None];
    for (i, enc) in encs.into_iter().enumerate() {
        let plain = format!("Hello,\n.dotline\nyour code is 00{i}123 é long line {} end\n", "x".repeat(100));
        let msg = Message::builder()
            .from("no-reply@example.com".parse().unwrap())
            .to("alice@example.com".parse().unwrap())
            .subject("Your code 999999")
            .multipart(MultiPart::alternative()
                .singlepart(match enc { Some(e) => SinglePart::builder().header(ContentType::TEXT_PLAIN).header(e).body(plain.clone()), None => SinglePart::builder().header(ContentType::TEXT_PLAIN).body(plain.clone()) })
                .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(format!("<p>123456</p>"))))
            .unwrap();
        t.send(&msg).unwrap();
        let m = sink.wait_for_nth("alice@example.com", i, Duration::from_secs(5));
        assert_eq!(code_in(&m), format!("00{i}123"), "{}", m.data);
        assert_eq!(m.text().replace("\r\n", "\n"), plain, "{}", m.data);
        assert!(m.html().unwrap().contains("123456"));
    }
    // default lettre encoding choice
    let msg = Message::builder().from("a@b.c".parse().unwrap()).to("bob@example.com".parse().unwrap()).subject("s")
        .multipart(MultiPart::alternative_plain_html("Code: 424242 ünïcode".to_string(), "<b>424242</b>".to_string())).unwrap();
    t.send(&msg).unwrap();
    let m = sink.wait_for("bob@example.com", Duration::from_secs(5));
    println!("{}", m.data);
    assert_eq!(code_in(&m), "424242");
    assert_eq!(m.from, "a@b.c");
    assert_eq!(sink.count_to("alice@example.com"), 3);
}

#[test]
fn http_client_with_tiny_http() {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let addr = server.server_addr().to_ip().unwrap().to_string();
    std::thread::spawn(move || {
        for mut req in server.incoming_requests() {
            let mut body = String::new();
            req.as_reader().read_to_string(&mut body).unwrap();
            let cookies: Vec<String> = req.headers().iter().filter(|h| h.field.equiv("cookie")).map(|h| h.value.to_string()).collect();
            let origin: Vec<String> = req.headers().iter().filter(|h| h.field.equiv("origin")).map(|h| h.value.to_string()).collect();
            let text = format!("{} {} body={} cookies={:?} origin={:?}", req.method(), req.url(), body, cookies, origin);
            let mut resp = tiny_http::Response::from_string(text.clone());
            if req.url() == "/set" {
                resp.add_header("Set-Cookie: a=1; HttpOnly; Path=/".parse::<tiny_http::Header>().unwrap());
                resp.add_header("Set-Cookie: b=2; Path=/".parse::<tiny_http::Header>().unwrap());
            }
            if req.url() == "/del" {
                resp.add_header("Set-Cookie: a=; Max-Age=0; Path=/".parse::<tiny_http::Header>().unwrap());
            }
            if req.url() == "/chunked" {
                let r = tiny_http::Response::new(200.into(), vec![], std::io::Cursor::new(text.repeat(1000).into_bytes()), None, None);
                req.respond(r).unwrap();
                continue;
            }
            req.respond(resp).unwrap();
        }
    });

    let c = Client::new(&addr, Some("http://x.example"));
    let r = c.get("/set");
    assert_eq!(r.status, 200);
    assert_eq!(c.cookie("a").as_deref(), Some("1"));
    assert_eq!(r.set_cookie("a"), Some("a=1; HttpOnly; Path=/"));
    let r = c.post_form("/echo", &[("email", "  A b@c.d\r\n"), ("x", "é&=")]);
    println!("{}", r.body);
    assert!(r.body.contains("body=email=++A+b%40c.d%0D%0A&x=%C3%A9%26%3D"));
    assert!(r.body.contains("a=1; b=2"));
    assert!(r.body.contains("origin=[\"http://x.example\"]"));
    let r = c.get("/del");
    assert!(c.cookie("a").is_none(), "{:?}", r);
    let r = c.get("/chunked");
    println!("{:?}", r.header("transfer-encoding"));
    assert!(r.body.starts_with("GET /chunked"));
    assert_eq!(r.body.matches("GET /chunked").count(), 1000);
    let out = raw(&addr, b"GARBAGE\r\n\r\n");
    println!("raw: {:?}", String::from_utf8_lossy(&out));
}

#[test]
fn csrf_parse() {
    let h = r#"<form><input type="email" name="email"><input type="hidden" name="csrf" value="ab&amp;c-_"></form>"#;
    assert_eq!(csrf_in(h), "ab&c-_");
    let h = r#"<input value='zz' name=csrf type=hidden />"#;
    assert_eq!(csrf_in(h), "zz");
    assert!(try_csrf_in("<input name=\"x\">").is_none());
    assert_eq!(six_digit_runs("1234567 123456 12345 654321x"), vec!["123456", "654321"]);
    assert_eq!(origin_of("https://a.b:8/x/y"), "https://a.b:8");
}
