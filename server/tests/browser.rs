//! The web page in a real browser: headless Chromium, driven through ChromeDriver
//! (WebDriver), loads the page from the real `govrec` binary on a loopback port with the demo
//! data, signs in as a county office, and the rendered DOM is checked against the API; a
//! screenshot is saved; a county outside the token's scope is refused.
//!
//! Needs Debian's `chromium` and `chromium-driver` (and `fonts-noto-cjk` for the Chinese
//! text); `.ci/run` installs them and sets `GOVREC_BROWSER_TESTS=required`, which makes a
//! missing browser a failure. Elsewhere the test says it was skipped. `GOVREC_CHROMIUM` and
//! `GOVREC_CHROMEDRIVER` override the paths.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use fantoccini::{ClientBuilder, Locator};
use govrec_tests::{free_port, http_json, sigterm, wait_for_port};
use serde_json::{json, Value};

fn tool(variable: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from);
    path.exists().then_some(path)
}

fn govrec(args: &[&str]) -> std::process::Output {
    let output = Command::new(env!("CARGO_BIN_EXE_govrec"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "govrec {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn token(data: &Path, role: &str, scope: &str, name: &str) -> String {
    let output = govrec(&[
        "token",
        "create",
        "--role",
        role,
        "--scope",
        scope,
        "--name",
        name,
        "--data",
        data.to_str().unwrap(),
    ]);
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// A child process killed when dropped, with everything it started when it leads a process
/// group of its own (the browser under ChromeDriver), so a failing assertion leaves nothing
/// running.
struct Running(Option<Child>);

impl Running {
    fn spawn(command: &mut Command) -> Running {
        use std::os::unix::process::CommandExt;
        Running(Some(command.process_group(0).spawn().unwrap()))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            // The whole group when the child leads one (ChromeDriver and the browser it
            // started), else the child alone. While the child is unreaped no other group can
            // have its pid as id.
            let group = rustix::process::Pid::from_child(&child);
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Where the screenshot goes: `target/browser/` of the workspace.
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    target.join("browser")
}

/// The coverage table as the browser rendered it: row id → data-key → (data-value, text).
const READ_TABLE: &str = r#"
    const rows = {};
    for (const tr of document.querySelectorAll('#coverage-table tr[data-area]')) {
        const cells = {};
        for (const td of tr.querySelectorAll('td[data-key]')) {
            cells[td.dataset.key] = [td.dataset.value, td.textContent];
        }
        rows[tr.dataset.area] = cells;
    }
    return rows;
"#;

/// Width and font size of the chart label naming the county, as laid out by the browser.
const LABEL_WIDTH: &str = r#"
    const label = [...document.querySelectorAll('#coverage svg text')].find(t => t.textContent.trim() === arguments[0]);
    return label ? [label.getComputedTextLength(), parseFloat(getComputedStyle(label).fontSize)] : null;
"#;

/// The page's `h1`.
async fn heading(browser: &fantoccini::Client) -> String {
    browser
        .find(Locator::Css("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_county_clerk_signs_in_with_chromium_and_sees_the_numbers_of_the_api() {
    let required = std::env::var("GOVREC_BROWSER_TESTS").is_ok_and(|value| value == "required");
    let (Some(chromium), Some(chromedriver)) = (
        tool("GOVREC_CHROMIUM", "/usr/bin/chromium"),
        tool("GOVREC_CHROMEDRIVER", "/usr/bin/chromedriver"),
    ) else {
        assert!(
            !required,
            "GOVREC_BROWSER_TESTS=required but chromium or chromedriver is missing"
        );
        eprintln!("SKIPPED: install Debian's chromium and chromium-driver to run the browser test");
        return;
    };

    // The demo, an admin, and the real server.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    govrec(&["demo", "--data", data_arg]);
    let admin = token(&data, "admin", "*", "admin");
    let port = free_port();
    let server = Running(Some(govrec_tests::serve(
        Path::new(env!("CARGO_BIN_EXE_govrec")),
        &data,
        port,
        30,
    )));
    let (status, everything) = http_json(port, "GET", "/v1/coverage", &admin, None);
    assert_eq!(status, 200);
    let county = |name: &str| {
        everything["children"]
            .as_array()
            .unwrap()
            .iter()
            .find(|child| child["area"]["name"] == name)
            .unwrap()["area"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (lingqiu, hunyuan) = (county("灵丘县"), county("浑源县"));
    // A county office of Lingqiu (the server rereads the token file).
    let clerk = token(&data, "office", &lingqiu, "灵丘县组织部");
    let (_, expected) = http_json(port, "GET", &format!("/v1/coverage?area={lingqiu}"), &clerk, None);

    // ChromeDriver and a headless Chromium without any network of its own.
    let driver_port = free_port();
    let _driver = Running::spawn(
        Command::new(&chromedriver)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for_port(driver_port, 30);
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-quic", "--window-size=1400,2400", "--lang=zh-CN"],
        }),
    );
    let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("chromedriver starts a session");

    // Sign in through the form.
    let base = format!("http://127.0.0.1:{port}");
    browser.goto(&format!("{base}/")).await.unwrap();
    let field = browser.wait().for_element(Locator::Id("token")).await.unwrap();
    field.send_keys(&clerk).await.unwrap();
    browser
        .find(Locator::Css("#sign-in button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    if browser
        .wait()
        .for_element(Locator::Id("coverage-table"))
        .await
        .is_err()
    {
        let source = browser.source().await.unwrap_or_default();
        let url = browser
            .current_url()
            .await
            .map(|url| url.to_string())
            .unwrap_or_default();
        panic!("no dashboard after signing in; at {url}: {source}");
    }
    let url = browser.current_url().await.unwrap();
    assert!(
        !url.as_str().contains(&clerk),
        "the token is never in a URL: {url}"
    );
    let script_cookies = browser.execute("return document.cookie", vec![]).await.unwrap();
    assert!(
        !script_cookies.as_str().unwrap_or_default().contains(&clerk),
        "the session cookie is HttpOnly"
    );

    // The rendered numbers are the API's.
    let rendered = browser.execute(READ_TABLE, vec![]).await.unwrap();
    // The clerk's page opens on Lingqiu: a row per town and the county's total.
    let towns = expected["children"].as_array().unwrap();
    assert!(!towns.is_empty());
    assert_eq!(rendered.as_object().unwrap().len(), towns.len() + 1);
    let rows = towns
        .iter()
        .map(|town| (town["area"]["id"].as_str().unwrap(), &town["stats"]))
        .chain([("total", &expected["stats"])]);
    for (row, stats) in rows {
        let cells = rendered[row]
            .as_object()
            .unwrap_or_else(|| panic!("row {row}: {rendered}"));
        assert_eq!(cells.len(), 13, "{row}");
        for (key, cell) in cells {
            let api = key.split('.').fold(stats, |value, part| &value[part]);
            let shown: Value = serde_json::from_str(cell[0].as_str().unwrap()).unwrap();
            assert_eq!(&shown, api, "{row} {key}");
            let text = cell[1].as_str().unwrap();
            if key.ends_with("coverage") || key.ends_with("rate") {
                let expected_text = api
                    .as_f64()
                    .map_or("—".to_owned(), |rate| format!("{:.1}%", rate * 100.0));
                assert_eq!(text, expected_text, "{row} {key}");
            }
        }
    }
    assert_eq!(heading(&browser).await, "小区治理一览");
    let audit = browser.find(Locator::Id("audit-state")).await.unwrap();
    assert_eq!(audit.attr("data-state").await.unwrap().as_deref(), Some("intact"));
    // The Chinese chart label is laid out with full-width CJK glyphs: n characters are n ems
    // wide (the font of `fonts-noto-cjk`).
    let town = towns[0]["area"]["name"].as_str().unwrap();
    let measured = browser.execute(LABEL_WIDTH, vec![json!(town)]).await.unwrap();
    let (width, em) = (measured[0].as_f64().unwrap(), measured[1].as_f64().unwrap());
    assert!(width > 0.0, "the county is named in the chart: {measured}");
    if required {
        let characters = town.chars().count() as f64;
        assert!(
            (width / (characters * em) - 1.0).abs() < 0.1,
            "CJK label {town}: {width} px at {em} px a character"
        );
    }

    let screenshot = browser.screenshot().await.unwrap();
    assert!(screenshot.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::create_dir_all(screenshot_dir()).unwrap();
    let shot = screenshot_dir().join("dashboard-lingqiu.png");
    std::fs::write(&shot, &screenshot).unwrap();
    eprintln!("screenshot: {}", shot.display());

    // The English switch.
    browser
        .find(Locator::Css("a.lang"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait()
        .for_element(Locator::Css("html[lang=en] #coverage-table"))
        .await
        .unwrap();
    assert_eq!(heading(&browser).await, "Community governance at a glance");

    // Another county is refused, in the page's language.
    browser.goto(&format!("{base}/?area={hunyuan}")).await.unwrap();
    let refusal = browser
        .wait()
        .for_element(Locator::Css("#problem h2"))
        .await
        .unwrap();
    assert_eq!(refusal.text().await.unwrap(), "Not allowed");
    let source = browser.source().await.unwrap();
    assert!(!source.contains("浑源县"), "nothing of the other county is shown");

    browser.close().await.unwrap();
    let mut server = server;
    assert!(sigterm(server.0.take().unwrap()).success());
}
