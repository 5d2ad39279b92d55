-- The seeded tenant of emulator/tenant.json, as the specs know it.
return {
  tenant_id = "4a9c2f1e-8b3d-4e6f-a1c2-5d7e9f0b3a6c",
  domain = "contoso.onmicrosoft.com",
  client_id = "6731de76-14a6-49ae-97bc-6eba6914391e",
  client_secret = "emu+Secret/&=%~K9v.Q_x",
  limited_client_id = "0b8e2d4f-6a1c-4e3b-9d5f-7c2a8e4b1d6f",
  limited_client_secret = "limited-secret-1",

  adele_id = "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
  adele_upn = "adele.vance@contoso.onmicrosoft.com",
  adele_password = "Adele P@ss&w0rd=1",
  megan_upn = "megan.bowen@contoso.onmicrosoft.com",
  megan_password = "Megan P@ss&w0rd=2",
  guest_upn = "john.smith_fabrikam.com#EXT#@contoso.onmicrosoft.com",
  patrick_upn = "patrick.o'brien@contoso.onmicrosoft.com",
  svc_upn = "$svc-backup@contoso.onmicrosoft.com",
  lynne_id = "e2a9f0c4-3b1d-4c8e-9f6a-2d5b7e1c0a93",
  lynne_upn = "lynne.robbins@contoso.onmicrosoft.com",
  missing_id = "00000000-0000-4000-8000-000000000404",

  seed_refresh_token = "seed-refresh-token-adele-0001",
}
