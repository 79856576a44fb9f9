package scenario

import (
	"fmt"
	"os"
	"path/filepath"
	"text/template"
)

// nginxConfig makes nginx a plain keep-alive reverse proxy, comparable to a
// one-node megaflow flow. It runs one worker per CPU, as GOMAXPROCS gives
// megaflow, and writes no access log. Requests per client and upstream
// connection are not limited, because the default limit of 1000 would add
// reconnects that megaflow does not make.
var nginxConfig = template.Must(template.New("nginx.conf").Parse(`daemon off;
worker_processes auto;
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/nginx-error.log warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path {{.Dir}}/client_body;
    proxy_temp_path {{.Dir}}/proxy;
    fastcgi_temp_path {{.Dir}}/fastcgi;
    uwsgi_temp_path {{.Dir}}/uwsgi;
    scgi_temp_path {{.Dir}}/scgi;

    upstream mock {
        server {{.Upstream}};
        keepalive 256;
        keepalive_requests 1000000;
    }

    server {
        listen {{.Listen}};
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
`))

// startNginx starts nginx as a reverse proxy in front of mock name, with
// its configuration, pid file and logs in the scenario's directory.
func (r *Running) startNginx(name string) error {
	path, err := nginxPath()
	if err != nil {
		return err
	}
	listen, err := freeAddr()
	if err != nil {
		return err
	}

	dir := filepath.Join(r.dir, "nginx-"+name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create nginx's directory: %w", err)
	}
	confPath := filepath.Join(dir, "nginx.conf")
	f, err := os.Create(confPath)
	if err != nil {
		return fmt.Errorf("write nginx's configuration: %w", err)
	}
	err = nginxConfig.Execute(f, map[string]string{"Dir": dir, "Listen": listen, "Upstream": r.mockAddrs[name]})
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("write nginx's configuration: %w", err)
	}

	// -e sends the errors logged before the configuration is read to the
	// scenario directory instead of /var/log/nginx (nginx 1.19.5 and later).
	if err := r.run("nginx-"+name, listen, path, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "nginx-error.log")); err != nil {
		return err
	}
	r.nginxAddrs[name] = listen
	return nil
}
