-- The user ids every sequential row cycles through (the floor has the same list).
return {
  "87d349ed-44d7-43e1-9a83-5f2406dee5bd", "adele.vance@contoso.onmicrosoft.com",
  "e2a9f0c4-3b1d-4c8e-9f6a-2d5b7e1c0a93", "lynne.robbins@contoso.onmicrosoft.com",
  "megan.bowen@contoso.onmicrosoft.com", "nestor.wilke@contoso.onmicrosoft.com",
  "3f1c9a2e-5b7d-4e8f-a0c1-9d2e4b6f8a10", "zoe.mueller@contoso.onmicrosoft.com",
}
