<#
.SYNOPSIS
  Registers (or removes) the CPx Connect native messaging host with Chrome, Chromium, Edge,
  Brave and Firefox on Windows.

.DESCRIPTION
  Windows browsers find native messaging hosts through registry keys whose default value is the
  path of the host manifest. This script writes the two manifests (Chromium family, Firefox)
  next to cpx-connect.exe, pointing at it by absolute path, and sets one key per browser:
    <hive>\SOFTWARE\Google\Chrome\NativeMessagingHosts\org.cpxconnect.host   (Chrome, Brave)
    <hive>\SOFTWARE\Chromium\NativeMessagingHosts\org.cpxconnect.host
    <hive>\SOFTWARE\Microsoft\Edge\NativeMessagingHosts\org.cpxconnect.host
    <hive>\SOFTWARE\Mozilla\NativeMessagingHosts\org.cpxconnect.host
  <hive> is HKCU (-Scope User, the default) or HKLM (-Scope Machine, needs an elevated shell).
  Running it again rewrites the same values: it is safe to repeat.

.EXAMPLE
  .\install-host.ps1 -Scope Machine -InstallDir 'C:\Program Files\CPx Connect'
.EXAMPLE
  .\install-host.ps1 -Scope Machine -InstallDir 'C:\Program Files\CPx Connect' -Uninstall
#>
[CmdletBinding()]
param(
    [ValidateSet('User', 'Machine')]
    [string] $Scope = 'User',
    # Folder holding cpx-connect.exe; the manifests are written there.
    [string] $InstallDir = $PSScriptRoot,
    # Chrome extension id allowed to start the host: the self-hosted release id of
    # extension/ids.json (never the development id by default: its private key is public).
    [ValidatePattern('^[a-p]{32}$')]
    [string] $ExtensionId = 'blhfinhacdbecccdlegcimacmlhfbpal',
    [switch] $Uninstall
)

$ErrorActionPreference = 'Stop'
$HostName = 'org.cpxconnect.host'
$FirefoxAddonId = 'cpx-connect@cpxconnect.org'
$Hive = if ($Scope -eq 'Machine') { 'HKLM:' } else { 'HKCU:' }
$Keys = [ordered]@{
    'SOFTWARE\Google\Chrome\NativeMessagingHosts'  = 'chromium'
    'SOFTWARE\Chromium\NativeMessagingHosts'       = 'chromium'
    'SOFTWARE\Microsoft\Edge\NativeMessagingHosts' = 'chromium'
    'SOFTWARE\Mozilla\NativeMessagingHosts'        = 'firefox'
}
$Manifests = @{
    chromium = Join-Path $InstallDir "$HostName.json"
    firefox  = Join-Path $InstallDir "$HostName.firefox.json"
}

if ($Uninstall) {
    foreach ($key in $Keys.Keys) {
        $path = "$Hive\$key\$HostName"
        if (Test-Path $path) { Remove-Item $path; Write-Output "removed   $path" }
        else { Write-Output "absent    $path" }
    }
    foreach ($file in $Manifests.Values) {
        if (Test-Path $file) { Remove-Item $file; Write-Output "removed   $file" }
    }
    exit 0
}

$binary = Join-Path $InstallDir 'cpx-connect.exe'
if (-not (Test-Path $binary)) {
    Write-Error "cpx-connect.exe not found in $InstallDir (use -InstallDir)"
}
$binary = (Resolve-Path $binary).Path
$description = 'CPx Connect: login to health web services with a CPx card (CPS)'
$content = @{
    chromium = [ordered]@{ name = $HostName; description = $description; path = $binary; type = 'stdio'
                           allowed_origins = @("chrome-extension://$ExtensionId/") }
    firefox  = [ordered]@{ name = $HostName; description = $description; path = $binary; type = 'stdio'
                           allowed_extensions = @($FirefoxAddonId) }
}
foreach ($family in $Manifests.Keys) {
    $json = $content[$family] | ConvertTo-Json -Depth 3
    $file = $Manifests[$family]
    if ((Test-Path $file) -and ((Get-Content -Raw $file).Trim() -eq $json.Trim())) {
        Write-Output "unchanged $file"
    } else {
        Set-Content -Path $file -Value $json -Encoding UTF8
        Write-Output "written   $file"
    }
}
foreach ($key in $Keys.Keys) {
    $path = "$Hive\$key\$HostName"
    $manifest = $Manifests[$Keys[$key]]
    if (-not (Test-Path $path)) { New-Item -Path $path -Force | Out-Null }
    Set-Item -Path $path -Value $manifest
    Write-Output "registered $path -> $manifest"
}
