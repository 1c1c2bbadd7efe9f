package secrets

import "strings"

// secretNames are normalised key names (lower case; '_', '-', '.', ' ' removed) whose value is a secret
// whatever it looks like.
var secretNames = map[string]bool{
	"password": true, "passwd": true, "pwd": true, "pass": true, "passphrase": true, "secret": true,
	"token": true, "apikey": true, "apitoken": true, "apisecret": true, "authorization": true,
	"proxyauthorization": true, "auth": true, "authtoken": true, "accesstoken": true,
	"refreshtoken": true, "idtoken": true, "sessiontoken": true, "bearertoken": true, "bearer": true,
	"privatekey": true, "clientsecret": true, "secretkey": true, "secretaccesskey": true,
	"cookie": true, "setcookie": true, "credentials": true, "credential": true, "sessionid": true,
	"xapikey": true, "xauthtoken": true, "connectionstring": true, "dsn": true, "otp": true, "pin": true,
	"mfacode": true, "totp": true, "signingkey": true, "encryptionkey": true, "masterkey": true,
	"webhooksecret": true, "sharedsecret": true, "pat": true,
}

// secretSuffixes extend secretNames to prefixed names (github_token, db_password, stripe_api_key).
var secretSuffixes = []string{
	"password", "passwd", "passphrase", "secret", "token", "apikey", "privatekey", "secretkey",
	"accesskey", "authorization", "credentials", "signingkey", "encryptionkey", "connectionstring",
}

// notSecretSuffixes are names that end like a secret but hold none: pagination cursors,
// token counts of model APIs, and names of secrets rather than secrets.
var notSecretSuffixes = []string{
	"pagetoken", "nexttoken", "continuationtoken", "synctoken", "cursortoken", "resumetoken",
	"maxtoken", "numtoken", "publickey", "publicaccesskey", "accesskeyid", "secretname", "secretid",
	"secretref", "secretarn", "tokentype", "tokenurl", "tokenendpoint", "passwordpolicy",
	"passwordhint", "passwordlength", "secretlength",
}

// normalizeKey lower-cases name and removes '_', '-', '.' and spaces.
func normalizeKey(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_' || c == '-' || c == '.' || c == ' ':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// IsSecretName reports whether a field, header or parameter called name holds a secret by its name:
// api_key, API-Key, password, db_password, token, github_token, Authorization, private_key,
// client_secret, aws_secret_access_key, cookie … but not max_tokens, next_page_token, token_type,
// public_key or access_key_id.
func IsSecretName(name string) bool {
	if len(name) < 2 || len(name) > 64 {
		return false
	}
	k := normalizeKey(name)
	if secretNames[k] {
		return true
	}
	for _, s := range notSecretSuffixes {
		if strings.HasSuffix(k, s) {
			return false
		}
	}
	for _, s := range secretSuffixes {
		if strings.HasSuffix(k, s) {
			return true
		}
	}
	return false
}
